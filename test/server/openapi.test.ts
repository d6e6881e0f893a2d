// /openapi.json is generated from the route table, carries the request and
// answer schemas, and documents every route the API registers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DashboardSessions } from "../../src/server/dashboard/session.js";
import type { DaemonApi } from "../../src/server/daemon-api.js";
import { DaemonHistory } from "../../src/server/history.js";
import { buildApi } from "../../src/server/http/app.js";
import { openApiDocument } from "../../src/server/openapi.js";

/** The daemon as far as registering routes needs: none of these is called. */
function idleDaemon(): DaemonApi {
  const never = () => Promise.reject(new Error("not called while routes are listed"));
  return {
    environment: "openapi",
    token: "t".repeat(64),
    readToken: "r".repeat(64),
    state: null,
    problems: [],
    namespace: null,
    secrets: () => {
      throw new Error("not called while routes are listed");
    },
    setSecret: never,
    deleteSecret: never,
    watch: async function* () {},
    apply: never,
    putService: never,
    deleteService: never,
    scale: never,
    stop: never,
    start: never,
    restart: never,
    restartProcess: never,
    killProcess: () => {
      throw new Error("not called while routes are listed");
    },
    history: new DaemonHistory(),
    processRows: never,
    shutdown: never,
    sessions: new DashboardSessions("t".repeat(64), "r".repeat(64)),
    openDashboardListener: never,
  };
}

/** "METHOD /path/{param}" for each route of fastify's route tree, as printRoutes draws it. */
function routesOf(tree: string): string[] {
  const stack: string[] = [];
  return tree.split("\n").flatMap((line) => {
    const match = /^([│├└─ ]*)(\S+) \(([^)]+)\)$/.exec(line);
    if (!match) return [];
    const depth = match[1]!.length / 4;
    const path = (stack[depth - 1] ?? "") + match[2]!;
    stack[depth] = path;
    return match[3]!
      .split(", ")
      .filter((method) => method !== "HEAD")
      .map((method) => `${method} ${path.replace(/:(\w+)/g, "{$1}")}`);
  });
}

type Operation = { requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }; responses: Record<string, unknown> };
const doc = openApiDocument() as { paths: Record<string, Record<string, Operation>> };

describe("the OpenAPI document", () => {
  it("carries the request schemas, not only the paths", () => {
    const apply = doc.paths["/v1/apply"]!.post!;
    const body = apply.requestBody!.content["application/json"]!.schema as { properties: Record<string, unknown>; required: string[] };
    assert.deepEqual(Object.keys(body.properties).sort(), ["backend", "environment", "kubernetes", "namespace", "services", "volumes"]);
    assert.deepEqual(body.required.sort(), ["environment", "namespace", "services"]);
    const spec = JSON.stringify(doc.paths["/v1/services/{id}"]!.put!.requestBody);
    for (const field of ["command", "args", "ports", "scale", "readiness", "dependsOn"]) assert.match(spec, new RegExp(`"${field}"`));
    assert.ok(apply.responses["400"] && apply.responses["409"], "bad input and a stopped rollout are documented");
    assert.match(JSON.stringify(doc.paths["/v1/processes"]!.get!.responses), /"cpuNanoCores"/);
  });

  for (const transport of ["unix", "tcp"] as const) {
    it(`documents every API route registered on the ${transport} listener`, async () => {
      const app = await buildApi(idleDaemon(), { transport, requireToken: transport === "tcp", logRequests: false });
      try {
        const registered = routesOf(app.printRoutes({ commonPrefix: false }));
        // The dashboard's own pages are for the browser, not part of the API.
        const api = registered.filter((r) => !/^\w+ \/(login|logout|assets\/\{file\})?$/.test(r));
        assert.ok(api.length >= 20, registered.join("\n"));
        for (const route of api) {
          const [method, path] = route.split(" ") as [string, string];
          assert.ok(doc.paths[path]?.[method.toLowerCase()], `${route} is documented`);
        }
      } finally {
        await app.close();
      }
    });
  }
});
