// A fuzz test of the daemon's HTTP API, generated from its zod schemas: every
// field of a service spec (and of its ports, readiness and back-off, and of the
// state around it) gets values of every wrong type, out-of-bound numbers, NUL
// bytes, huge strings and unknown keys. The schema itself is the oracle: each
// body it refuses must be answered 4xx — never 5xx — with nothing persisted
// and no process started. Prints the request count and the 5xx count.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ServiceSpec } from "../../src/config/types.js";
import { desiredStateSchema, serviceSpecSchema } from "../../src/config/desired-state.js";
import { portSchema, readinessSchema, restartBackoffSchema } from "../../src/contract/rules.js";
import { Daemon } from "../../src/server/daemon.js";
import { scaleBody, secretBody } from "../../src/server/wire.js";
import { IMAGES, killEnvironment, processesOfEnvironment } from "../helpers.js";

function send(socketPath: string, method: string, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Values of every JSON type and the edges of each: whatever a field's rule is, most of these break it. */
const WRONG: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  2 ** 31,
  1e9,
  Number.MAX_SAFE_INTEGER,
  "",
  "abc",
  "a\0b",
  "x".repeat(200_000),
  [],
  [1],
  [null],
  ["a", 2],
  {},
  { unknown: 1 },
  { good: "whenever" },
];

const sleeper: ServiceSpec = { command: join(IMAGES, "sleeper"), args: [], ports: [], scale: 1, env: {}, labels: {}, dependsOn: {} };

/** Every variant of a valid object with one field replaced by a wrong value, or one unknown field added. */
function mutations(valid: Record<string, unknown>, keys: string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const key of keys) for (const value of WRONG) out.push({ ...valid, [key]: value });
  out.push({ ...valid, unknownField: 1 });
  return out;
}

describe("the HTTP API under fuzzed input (generated from the zod schemas)", () => {
  it("answers every body its schema refuses with 4xx, never 5xx, persisting and starting nothing", async (t) => {
    const stateDir = realpathSync(mkdtempSync(join(tmpdir(), "corral-fuzz-")));
    const environment = `fuzz-${process.pid}`;
    const daemon = await Daemon.start({ stateDir, environment, log: () => {} });
    t.after(async () => {
      await daemon.shutdown({ stopServices: true });
      killEnvironment(environment);
      rmSync(stateDir, { recursive: true, force: true });
    });
    const socket = join(stateDir, "corral.sock");
    const state = (services: Record<string, unknown>) => ({ environment, namespace: "default", services });
    assert.equal(await send(socket, "POST", "/v1/apply", JSON.stringify(state({ web: sleeper }))), 200);
    const desired = readFileSync(join(stateDir, "desired.json"), "utf8");
    const processes = processesOfEnvironment(environment).sort();

    const specs: Record<string, unknown>[] = [
      ...mutations(sleeper, Object.keys(serviceSpecSchema.shape)),
      ...mutations({ name: "http" }, Object.keys(portSchema.shape)).map((port) => ({ ...sleeper, ports: [port] })),
      ...mutations({ exec: ["/bin/true"] }, Object.keys(readinessSchema.shape)).map((readiness) => ({ ...sleeper, readiness })),
      ...mutations({}, Object.keys(restartBackoffSchema.shape)).map((restartBackoff) => ({ ...sleeper, restartBackoff })),
      { ...sleeper, dependsOn: { web: "ready" } },
      { ...sleeper, dependsOn: { nobody: "ready" } },
    ];
    const bodies: { method: string; path: string; body: unknown; refused: boolean }[] = [];
    for (const spec of specs) {
      const whole = state({ web: spec });
      bodies.push({ method: "POST", path: "/v1/apply", body: whole, refused: !desiredStateSchema.safeParse(whole).success });
      bodies.push({ method: "PUT", path: "/v1/services/web", body: spec, refused: !serviceSpecSchema.safeParse(spec).success });
    }
    for (const value of WRONG) {
      for (const key of ["environment", "namespace", "services", "backend", "volumes"]) {
        const whole = { ...state({ web: sleeper }), [key]: value };
        bodies.push({ method: "POST", path: "/v1/apply", body: whole, refused: !desiredStateSchema.safeParse(whole).success });
      }
      bodies.push({
        method: "POST",
        path: "/v1/services/web/scale",
        body: { scale: value },
        refused: !scaleBody.safeParse({ scale: value }).success,
      });
      bodies.push({ method: "PUT", path: "/v1/secrets/s", body: { value }, refused: !secretBody.safeParse({ value }).success });
      bodies.push({ method: "POST", path: "/v1/shutdown", body: { stopServices: value, x: 1 }, refused: true });
      bodies.push({ method: "POST", path: "/v1/apply", body: value, refused: true });
    }
    bodies.push({ method: "POST", path: "/v1/apply", body: "{not json", refused: true });
    bodies.push({ method: "POST", path: "/v1/apply?timeoutMs=-1", body: state({ web: sleeper }), refused: true });
    bodies.push({ method: "GET", path: "/v1/services/web/logs?tail=abc", body: undefined, refused: true });

    let sent = 0;
    let fiveHundreds = 0;
    const wrong: string[] = [];
    for (const { method, path, body, refused } of bodies) {
      if (!refused) continue; // a body the schema takes is not bad input (and would change the state)
      const text = typeof body === "string" ? body : body === undefined ? "" : JSON.stringify(body);
      const status = await send(socket, method, path, text);
      sent++;
      if (status >= 500) fiveHundreds++;
      if (status < 400 || status >= 500) wrong.push(`${status} ${method} ${path} ${text.slice(0, 120)}`);
    }
    console.log(`api fuzz: ${sent} requests, 5xx = ${fiveHundreds}, not 4xx = ${wrong.length}`);
    assert.deepEqual(wrong, []);
    assert.ok(sent > 400, `${sent} requests`);
    assert.equal(readFileSync(join(stateDir, "desired.json"), "utf8"), desired, "nothing was persisted");
    assert.deepEqual(processesOfEnvironment(environment).sort(), processes, "no process was started or stopped");
  });
});
