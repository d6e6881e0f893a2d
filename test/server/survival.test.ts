// The daemon survives what the library survives: input past the documented
// bounds is refused before anything is written, a state file no daemon can
// load does not keep one from starting, and a removal a SIGKILLed daemon left
// half-done is finished by the next one. Real processes, real sockets.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { z } from "../../src/util/zod.js";
import { ApiError, DaemonClient } from "../../src/cli/client.js";
import { INPUT_LIMITS } from "../../src/contract/defaults.js";
import type { ServiceSpec } from "../../src/config/types.js";
import { Daemon } from "../../src/server/daemon.js";
import { healthBody } from "../../src/server/wire.js";
import { FIXTURES, IMAGES, isPidAlive, killEnvironment, processesOfEnvironment, until } from "../helpers.js";

const spec = (image: string, extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  command: join(IMAGES, image),
  args: [],
  ports: [],
  scale: 1,
  env: {},
  labels: {},
  dependsOn: {},
  ...extra,
});

/** A state directory and environment; `defer`red cleanups run last first, then every process is killed and the directory removed. */
function tempState(t: { after(fn: () => Promise<void>): void }, name: string) {
  const stateDir = realpathSync(mkdtempSync(join(tmpdir(), `corral-survival-${name}-`)));
  const environment = `survival-${name}-${process.pid}`;
  const deferred: (() => unknown)[] = [];
  t.after(async () => {
    for (const cleanup of deferred.reverse()) await cleanup();
    killEnvironment(environment);
    rmSync(stateDir, { recursive: true, force: true });
  });
  return {
    stateDir,
    environment,
    defer: (cleanup: () => unknown) => deferred.push(cleanup),
    state: (services: Record<string, unknown>) => ({ environment, namespace: "default", services }),
  };
}

/** A daemon in a child process (test/fixtures/daemon-host.ts), resolved once it serves. */
async function daemonProcess(stateDir: string, environment: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", join(FIXTURES, "daemon-host.ts"), stateDir, environment], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  await until(() => out.includes("ready") || child.exitCode !== null, "the daemon host to start", 60_000);
  assert.ok(out.includes("ready"), `the daemon host exited with ${child.exitCode}`);
  return child;
}

describe("the daemon survives what the library survives", () => {
  it("refuses a scale past the documented maximum (and a state past the process total) with 400, persisting nothing", async (t) => {
    const { stateDir, environment, state, defer } = tempState(t, "bounds");
    const daemon = await Daemon.start({ stateDir, environment });
    defer(() => daemon.shutdown({ stopServices: true }));
    const client = new DaemonClient({ socketPath: join(stateDir, "corral.sock") });
    await client.post("/v1/apply", state({ web: spec("sleeper") }));
    const before = readFileSync(join(stateDir, "desired.json"), "utf8");
    const refused = async (path: string, body: unknown, field: string, rule: RegExp, method: "POST" | "PUT" = "POST") => {
      const error = await client.call(method, path, body, z.unknown()).then(
        () => assert.fail(`${path} ${JSON.stringify(body).slice(0, 80)} was accepted`),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ApiError, String(error));
      assert.equal(error.status, 400, error.message);
      assert.equal(error.field, field, error.message);
      assert.match(String(error.rule), rule);
    };
    for (const scale of [1e9, 2 ** 31, Number.MAX_SAFE_INTEGER, INPUT_LIMITS.maxScale + 1]) {
      await refused("/v1/apply", state({ web: spec("sleeper", { scale }) }), "services.web.scale", /at most 10000/);
      await refused("/v1/services/web/scale", { scale }, "scale", /at most 10000/);
    }
    const many = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`s${i}`, spec("sleeper", { scale: 4000 })]));
    await refused("/v1/apply", state(many), "services", /at most 10000 processes/);
    await refused("/v1/apply", state({ web: spec("sleeper", { args: ["a\0b"] }) }), "services.web.args[0]", /without NUL/);
    await refused(
      "/v1/apply",
      state({ web: spec("sleeper", { args: ["x".repeat(INPUT_LIMITS.maxStringLength + 1)] }) }),
      "services.web.args[0]",
      /at most 131072 characters/,
    );
    await refused("/v1/apply", { environment, namespace: "default", services: [] }, "services", /must be a mapping/);
    assert.equal(readFileSync(join(stateDir, "desired.json"), "utf8"), before, "nothing was persisted");
    assert.equal(processesOfEnvironment(environment).length, 1, "nothing was started");
  });

  it("starts with a state file it cannot load, reports it in /healthz, leaves what runs alone, and an apply replaces it", async (t) => {
    const { stateDir, environment, state, defer } = tempState(t, "unloadable");
    const first = await Daemon.start({ stateDir, environment });
    const client = new DaemonClient({ socketPath: join(stateDir, "corral.sock") });
    await client.post("/v1/apply", state({ old: spec("sleeper") }));
    const [running] = processesOfEnvironment(environment);
    assert.ok(running !== undefined);
    await first.shutdown(); // leaves `old` running, as a SIGTERMed daemon does
    // What an older version, or a hand edit, may leave: a scale no daemon should start.
    const file = join(stateDir, "desired.json");
    writeFileSync(file, JSON.stringify(state({ old: spec("sleeper", { scale: 1e9 }) })));

    const daemon = await Daemon.start({ stateDir, environment });
    defer(() => daemon.shutdown({ stopServices: true }));
    const health = await client.get("/healthz", healthBody);
    assert.equal(health.problems.length, 1, JSON.stringify(health));
    assert.match(health.problems[0]!, /state file could not be loaded .*services\.old\.scale: must be at most 10000/);
    assert.ok(isPidAlive(running), "what runs is left alone");
    assert.equal(daemon.state, null);

    await client.post("/v1/apply", state({ fresh: spec("sleeper") }));
    assert.deepEqual((await client.get("/healthz", healthBody)).problems, []);
    await until(() => !isPidAlive(running), "the service only the unloadable file named to be stopped");
    assert.equal(processesOfEnvironment(environment).length, 1);
  });

  it("finishes a removal a SIGKILLed daemon left half-done: the next daemon stops the leftover", async (t) => {
    const { stateDir, environment, state, defer } = tempState(t, "removal");
    const host = await daemonProcess(stateDir, environment);
    defer(() => host.kill("SIGKILL"));
    const client = new DaemonClient({ socketPath: join(stateDir, "corral.sock") });
    const readyFile = join(stateDir, "stubborn.ready");
    await client.post(
      "/v1/apply",
      state({ keep: spec("sleeper"), gone: spec("stubborn", { stopGracePeriodMs: 2000, env: { READY_FILE: readyFile } }) }),
    );
    await until(() => existsSync(readyFile), "the stubborn service's traps");
    const pidOf = async (service: string) => {
      const rows = await client.get("/v1/processes", z.array(z.object({ service: z.string(), pid: z.number().nullable() })));
      return rows.find((row) => row.service === service)?.pid ?? undefined;
    };
    const gonePid = await pidOf("gone");
    const keepPid = await pidOf("keep");
    assert.ok(gonePid !== undefined && keepPid !== undefined);
    // The removal starts (the state is persisted first), the stubborn process ignores SIGTERM: kill the daemon meanwhile.
    const removal = client.post("/v1/apply", state({ keep: spec("sleeper") })).catch((error: unknown) => error);
    await until(() => !readFileSync(join(stateDir, "desired.json"), "utf8").includes('"gone"'), "the removal to be persisted");
    host.kill("SIGKILL");
    await once(host, "exit");
    await removal;
    assert.ok(isPidAlive(gonePid), "the SIGKILLed daemon left the service it was removing");

    const daemon = await Daemon.start({ stateDir, environment });
    defer(() => daemon.shutdown({ stopServices: true }));
    await until(() => !isPidAlive(gonePid), "the next daemon to stop the leftover");
    assert.ok(isPidAlive(keepPid), "what the state names is adopted, not restarted");
    const rows = await client.get("/v1/services", z.array(z.object({ id: z.string() })));
    assert.deepEqual(
      rows.map((r) => r.id),
      ["keep"],
    );
    assert.ok(!existsSync(join(stateDir, "run", "default-gone")), "the leftover's run directory is gone");
  });
});
