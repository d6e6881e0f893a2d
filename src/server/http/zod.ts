// Fastify validates requests with the API's zod schemas (as
// fastify-type-provider-zod does, without its OpenAPI dependencies): a bad
// request fails with the same ValidationError — field and rule — that any
// other caller of the schemas gets, and handlers see the parsed, typed value.
import type { FastifyPluginAsync, FastifySchemaCompiler, FastifyTypeProvider, RawServerDefault } from "fastify";
import type { z } from "zod";
import { validationErrorOf } from "../../contract/rules.js";

export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this["schema"] extends z.ZodType ? z.output<this["schema"]> : unknown;
  serializer: this["schema"] extends z.ZodType ? z.input<this["schema"]> : unknown;
}

/** A route plugin of the API: its options, and schemas typed by zod. */
export type ApiPlugin<Options extends Record<string, unknown>> = FastifyPluginAsync<Options, RawServerDefault, ZodTypeProvider>;

const PART_NAMES: Record<string, string> = { body: "body", querystring: "query", params: "path", headers: "headers" };

export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    const result = schema.safeParse(data);
    if (result.success) return { value: result.data };
    return { error: validationErrorOf(result.error, PART_NAMES[httpPart ?? "body"] ?? "request") };
  };
