// Malformed input to the daemon's HTTP API never reaches a cast: every field
// error is a 400 naming the field and the rule, unknown things are 404
// everywhere, and nothing is persisted or started for a request that fails.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ApiError, DaemonClient } from "../../src/cli/client.js";
import type { ServiceSpec } from "../../src/config/types.js";
import { Daemon } from "../../src/server/daemon.js";
import { IMAGES, killEnvironment } from "../helpers.js";

const sleeper: ServiceSpec = { command: join(IMAGES, "sleeper"), args: [], ports: [], scale: 1, env: {}, labels: {}, dependsOn: {} };

/** A raw request, for bodies the client would never send; the answer's status and parsed JSON. */
function send(socketPath: string, method: string, path: string, body?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: body === undefined ? {} : { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("the daemon's HTTP API refuses bad input with 400 (field and rule) and unknown things with 404", () => {
  let stateDir: string;
  let daemon: Daemon;
  let client: DaemonClient;
  let socket: string;
  const environment = `bad-input-${process.pid}`;
  const state = (services: unknown) => ({ environment, namespace: "default", services });

  before(async () => {
    stateDir = realpathSync(mkdtempSync(join(tmpdir(), "corral-bad-input-")));
    daemon = await Daemon.start({ stateDir, environment });
    client = new DaemonClient({ socketPath: join(stateDir, "corral.sock") });
    socket = join(stateDir, "corral.sock");
    await client.post("/v1/apply", state({ worker: sleeper }));
  });
  after(async () => {
    await daemon.shutdown({ stopServices: true });
    killEnvironment(environment);
    rmSync(stateDir, { recursive: true, force: true });
  });

  const refused = async (method: string, path: string, body: unknown, field: string, rule: RegExp) => {
    const answer = await send(
      socket,
      method,
      path,
      body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    );
    assert.equal(answer.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(answer.json)}`);
    assert.equal(answer.json.field, field, JSON.stringify(answer.json));
    assert.match(String(answer.json.rule), rule);
    assert.equal(answer.json.code, "CORRAL_ERR_VALIDATION");
  };

  it("refuses desired states that do not have the schema's shape", async () => {
    const desired = readFileSync(join(stateDir, "desired.json"), "utf8");
    await refused("POST", "/v1/apply", state([]), "services", /must be a mapping of service id to service spec/);
    await refused("POST", "/v1/apply", state({ web: { ...sleeper, scale: "2" } }), "services.web.scale", /must be a non-negative integer/);
    await refused("POST", "/v1/apply", state({ web: { ...sleeper, scael: 2 } }), "services.web", /unknown field "scael"/);
    await refused("POST", "/v1/apply", { ...state({}), extra: true }, "body", /unknown field "extra"/);
    await refused("POST", "/v1/apply", state({ Web: sleeper }), "services.Web", /must match/);
    await refused(
      "POST",
      "/v1/apply",
      state({ web: { ...sleeper, command: "sleeper" } }),
      "services.web.command",
      /must be an absolute path/,
    );
    await refused("POST", "/v1/apply", state({ web: { ...sleeper, args: [1] } }), "services.web.args[0]", /must be a string/);
    await refused("POST", "/v1/apply", state({ web: { ...sleeper, env: { "A=B": "c" } } }), "services.web.env.A=B", /'='/);
    await refused("POST", "/v1/apply", state({ web: { ...sleeper, memory: "lots" } }), "services.web.memory", /byte size/);
    await refused("POST", "/v1/apply", state({ web: { ...sleeper, args: ["%P:http"] } }), "services.web.args[0]", /names no port/);
    await refused(
      "POST",
      "/v1/apply",
      state({ web: { ...sleeper, readiness: { socket: "http" } } }),
      "services.web.readiness.socket",
      /must name one of the service's ports/,
    );
    await refused("POST", "/v1/apply", "{ not json", "body", /JSON/);
    await refused("POST", "/v1/apply", undefined, "body", /must be a desired state object/);
    assert.equal(readFileSync(join(stateDir, "desired.json"), "utf8"), desired, "nothing was persisted");
  });

  it("refuses dependsOn that names an unknown service, the service itself, or a cycle", async () => {
    await refused(
      "POST",
      "/v1/apply",
      state({ web: { ...sleeper, dependsOn: { db: "ready" } } }),
      "services.web.dependsOn.db",
      /names no service of this state \(services: web\)/,
    );
    await refused(
      "POST",
      "/v1/apply",
      state({ web: { ...sleeper, dependsOn: { web: "ready" } } }),
      "services.web.dependsOn.web",
      /cycle: web -> web/,
    );
    await refused(
      "POST",
      "/v1/apply",
      state({ a: { ...sleeper, dependsOn: { b: "started" } }, b: { ...sleeper, dependsOn: { a: "ready" } } }),
      "services.a.dependsOn.b",
      /dependency cycle: a -> b -> a/,
    );
    await refused(
      "POST",
      "/v1/apply",
      state({ web: { ...sleeper, dependsOn: { worker: "healthy" } } }),
      "services.web.dependsOn.worker",
      /must be one of/,
    );
  });

  it("checks one service, a scale, a secret, a shutdown and a log query the same way", async () => {
    await refused("PUT", "/v1/services/web", { ...sleeper, command: "./sleeper" }, "command", /must be an absolute path/);
    await refused(
      "PUT",
      "/v1/services/web",
      { ...sleeper, dependsOn: { nope: "ready" } },
      "services.web.dependsOn.nope",
      /names no service/,
    );
    await refused("PUT", "/v1/services/Bad_Id", sleeper, "id", /must match/);
    await refused("POST", "/v1/services/worker/scale", { scale: -1 }, "scale", /must be a non-negative integer/);
    await refused("POST", "/v1/services/worker/scale", { scale: 2, extra: 1 }, "body", /unknown field "extra"/);
    await refused("PUT", "/v1/secrets/token", {}, "body", /exactly one of "value" or "base64"/);
    await refused("PUT", "/v1/secrets/token", { base64: "not base64!" }, "base64", /base64/);
    await refused("POST", "/v1/shutdown", { stopServices: "yes" }, "stopServices", /true or false/);
    await refused("GET", "/v1/services/worker/logs?tail=-1", undefined, "tail", /non-negative integer/);
    await refused("GET", "/v1/services/worker/logs?process=1", undefined, "process", /below 1/);
    await refused("POST", "/v1/dashboard/open", { port: 70000 }, "port", /between 0 and 65535/);
    assert.equal(daemon.state?.services.worker?.scale, 1, "nothing changed");
  });

  it("answers 404 for an unknown service on every route that names one", async () => {
    for (const [method, path, body] of [
      ["GET", "/v1/services/nope", undefined],
      ["POST", "/v1/services/nope/scale", { scale: 2 }],
      ["POST", "/v1/services/nope/restart", {}],
      ["GET", "/v1/services/nope/logs", undefined],
    ] as const) {
      const answer = await send(socket, method, path, body === undefined ? undefined : JSON.stringify(body));
      assert.equal(answer.status, 404, `${method} ${path}`);
      assert.equal(answer.json.code, "CORRAL_ERR_UNKNOWN_SERVICE");
      assert.match(String(answer.json.error), /unknown service "nope"/);
    }
    await assert.rejects(client.post("/v1/services/nope/scale", { scale: 2 }), (e: unknown) => e instanceof ApiError && e.status === 404);
  });

  it("refuses the same bad states from a library caller before anything is persisted", async () => {
    const desired = readFileSync(join(stateDir, "desired.json"), "utf8");
    await assert.rejects(
      daemon.apply({ environment, namespace: "default", services: { web: { ...sleeper, dependsOn: { ghost: "ready" } } } }),
      (e: Error & { field?: string }) => e.field === "services.web.dependsOn.ghost",
    );
    assert.equal(readFileSync(join(stateDir, "desired.json"), "utf8"), desired);
  });
});
