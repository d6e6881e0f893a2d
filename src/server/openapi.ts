// The API described for clients and tools (OpenAPI 3.1), generated from the
// route table (http/routes-table.ts): the same zod schemas the routes validate
// with, so the document carries every request and answer schema and cannot
// drift from what the daemon does.
import { z } from "../util/zod.js";
import { ROUTES, type Answer, type RouteSpec } from "./http/routes-table.js";

/** JSON Schema (2020-12, as OpenAPI 3.1 uses) of what a client sends or receives. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
  return rest;
}

function parameters(route: RouteSpec): Record<string, unknown>[] {
  const of = (where: "path" | "query", object: z.ZodObject | undefined) =>
    Object.entries<z.ZodType>(object?.shape ?? {}).map(([name, field]) => {
      const schema = jsonSchema(field);
      const { description, ...rest } = schema;
      return {
        name,
        in: where,
        required: where === "path" || !field.safeParse(undefined).success,
        ...(typeof description === "string" ? { description } : {}),
        schema: rest,
      };
    });
  return [...of("path", route.params), ...of("query", route.querystring)];
}

function answer({ description, type = "application/json", schema }: Answer): Record<string, unknown> {
  return { description, content: { [type]: schema ? { schema: jsonSchema(schema) } : {} } };
}

function operation(route: RouteSpec): Record<string, unknown> {
  const params = parameters(route);
  return {
    summary: route.summary,
    ...(route.readScope ? { "x-read-scope": true } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: !route.body.safeParse(undefined).success,
            content: { "application/json": { schema: jsonSchema(route.body) } },
          },
        }
      : {}),
    responses: Object.fromEntries(Object.entries(route.responses).map(([status, a]) => [status, answer(a)])),
  };
}

let document: Record<string, unknown> | undefined;

export function openApiDocument(): Record<string, unknown> {
  if (document) return document;
  const paths: Record<string, Record<string, unknown>> = {};
  const routes: RouteSpec[] = Object.values(ROUTES);
  for (const route of routes) (paths[route.url.replace(/:(\w+)/g, "{$1}")] ??= {})[route.method.toLowerCase()] = operation(route);
  document = {
    openapi: "3.1.0",
    info: {
      title: "corral daemon API",
      version: "1",
      description: "Served on <state dir>/corral.sock (mode 0600) and, optionally, on TCP with a bearer token.",
    },
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description:
            "Required on TCP; the admin token is in <state dir>/token, the read-only token (GET routes marked x-read-scope) in <state dir>/token.read.",
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
  return document;
}
