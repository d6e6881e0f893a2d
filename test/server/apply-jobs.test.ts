// The daemon's apply with one-shot jobs, on real processes: a failed job
// blocks its dependents at once (the dependency timeout is 300 s; the test's
// own bound is far shorter), a completed one lets them start, a deadline ends
// the waits, and a shutdown or a caller that leaves pre-empts a stuck apply.
import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DaemonClient } from "../../src/cli/client.js";
import { ApplyInterruptedError } from "../../src/contract/errors.js";
import type { ServiceEvent } from "../../src/contract/types.js";
import type { DesiredState, ServiceSpec } from "../../src/config/types.js";
import { ProcessOrchestrator } from "../../src/process/orchestrator.js";
import { Daemon } from "../../src/server/daemon.js";
import { statePaths } from "../../src/server/state-dir.js";
import { applyResultBody } from "../../src/server/wire-state.js";
import { IMAGES, isPidAlive, killEnvironment, nextEvent, processesOfEnvironment } from "../helpers.js";

const spec = (command: string, args: string[], extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  command,
  args,
  ports: [],
  scale: 1,
  env: {},
  labels: {},
  dependsOn: {},
  ...extra,
});
const sleeper = (extra: Partial<ServiceSpec> = {}) => spec(join(IMAGES, "sleeper"), [], extra);
const job = (status: number) => spec(join(IMAGES, "exit-with"), [String(status)], { restart: "never" });
/** Never ready: its readiness probe waits for a socket nobody listens on. */
const neverReady = () => sleeper({ ports: [{ name: "sql" }], readiness: { socket: "sql", periodMs: 50 } });

describe("the daemon's apply with one-shot jobs", { timeout: 120_000 }, () => {
  let stateDir: string;
  let daemon: Daemon;
  let client: DaemonClient;
  const environment = `jobs-${process.pid}`;
  const state = (services: Record<string, ServiceSpec>): DesiredState => ({ environment, namespace: "default", services });
  const running = () => daemon.namespace?.processStatuses().map((s) => s.serviceId) ?? [];

  before(async () => {
    stateDir = realpathSync(mkdtempSync(join(tmpdir(), "corral-jobs-")));
    daemon = await Daemon.start({ stateDir, environment });
    client = new DaemonClient({ socketPath: join(stateDir, "corral.sock") });
  });
  after(async () => {
    await daemon.shutdown({ stopServices: true });
    killEnvironment(environment);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("a job that fails blocks its dependents (and theirs) at once, and starts the rest", async () => {
    const result = await client.call(
      "POST",
      "/v1/apply",
      state({
        migrate: job(3),
        api: sleeper({ dependsOn: { migrate: "completed" } }),
        web: sleeper({ dependsOn: { api: "ready" } }),
        cache: sleeper(),
      }),
      applyResultBody,
    );
    assert.deepEqual(result.blocked, [
      { service: "api", by: "migrate", reason: "migrate-0 exited with status 3" },
      { service: "web", by: "migrate", reason: "migrate-0 exited with status 3" },
    ]);
    assert.deepEqual(result.waiting, []);
    assert.deepEqual(result.added, ["cache", "migrate"]);
    assert.deepEqual(running(), ["cache", "migrate"], "the blocked services were never started");
  });

  it("once the job is fixed, a later apply runs it and starts what it blocked", async () => {
    const result = await daemon.apply(
      state({
        migrate: job(0),
        api: sleeper({ dependsOn: { migrate: "completed" } }),
        web: sleeper({ dependsOn: { api: "ready" } }),
        cache: sleeper(),
      }),
    );
    assert.deepEqual(result.blocked, []);
    assert.deepEqual(result.changed, ["migrate"]);
    assert.deepEqual(result.added, ["api", "web"], "the services that never ran are started, though the state already named them");
    assert.deepEqual(result.unchanged, ["cache"]);
    const api = daemon.namespace!.processStatuses().find((s) => s.serviceId === "api")!.processes[0]!;
    assert.ok(api.pid !== undefined && isPidAlive(api.pid), "api runs");
  });

  it("a dependency still waiting at the caller's deadline is answered as waiting", async () => {
    const result = await client.call(
      "POST",
      "/v1/apply?timeoutMs=300",
      state({ db: neverReady(), front: sleeper({ dependsOn: { db: "ready" } }) }),
      applyResultBody,
    );
    assert.deepEqual(result.waiting, [{ service: "front", dependency: "db", condition: "ready" }]);
    assert.deepEqual(running(), ["db"]);
    await assert.rejects(
      client.call("POST", "/v1/apply?timeoutMs=soon", state({}), applyResultBody),
      (error: Error & { status?: number }) => error.status === 400,
    );
  });

  it("a caller that leaves stops the apply's wait: the next apply does not queue behind it", async () => {
    // The test before left front waiting, which the daemon keeps converging on in the background: a newer apply ends that.
    await daemon.apply(state({}));
    const events = client.events(AbortSignal.timeout(60_000));
    const leaving = new AbortController();
    const stuck = client.call(
      "POST",
      "/v1/apply",
      state({ db: neverReady(), late: sleeper({ dependsOn: { db: "ready" } }) }),
      applyResultBody,
      leaving.signal,
    );
    stuck.catch(() => {}); // its rejection (the abort) is the point
    // The apply has started once db is (still) starting under it.
    const statuses = (async function* (): AsyncGenerator<ServiceEvent> {
      for await (const e of events) if (!("snapshotEnd" in e)) yield e;
    })();
    await nextEvent(statuses, (e) => e.serviceId === "db" && e.reason === "starting");
    await statuses.return(undefined);
    leaving.abort();
    const next = await daemon.apply(state({ cache: sleeper() }));
    assert.deepEqual(next.added, ["cache"]);
    assert.deepEqual(next.removed, ["db", "late"]);
    assert.deepEqual(running(), ["cache"], "the service the abandoned apply waited to start never started");
  });

  it("a shutdown pre-empts an apply stuck on a dependency and stops every process", async () => {
    const stuck = daemon.apply(state({ db: neverReady(), web: sleeper({ dependsOn: { db: "ready" } }) }));
    const outcome = stuck.then(
      () => "resolved",
      (error: unknown) => error,
    );
    const events = daemon.namespace!.watchServices()[Symbol.asyncIterator]();
    await nextEvent(events, (e) => e.serviceId === "db" && e.reason === "starting");
    await events.return!();
    await daemon.shutdown({ stopServices: true });
    const error = await outcome;
    assert.ok(error instanceof ApplyInterruptedError, `got ${String(error)}`);
    assert.match(error.message, /the daemon is stopping every service/);
    assert.deepEqual(processesOfEnvironment(environment), []);
    // A fresh daemon for the next test of this suite.
    daemon = await Daemon.start({ stateDir, environment });
  });

  it("an apply during the shutdown is refused, not run after it", async () => {
    const closing = daemon.shutdown({ stopServices: true });
    await assert.rejects(daemon.apply(state({ cache: sleeper() })), ApplyInterruptedError);
    await closing;
    assert.deepEqual(processesOfEnvironment(environment), []);
    daemon = await Daemon.start({ stateDir, environment });
  });

  it("shutdown with stopServices also stops services only the run directory still records", async () => {
    await daemon.shutdown({ stopServices: true });
    const paths = statePaths(stateDir);
    // Left by an earlier instance in another namespace: the desired state does not name it.
    const earlier = await ProcessOrchestrator.create({
      imageDir: IMAGES,
      environmentId: environment,
      stateDir: paths.run,
      scratchDirectory: paths.scratch,
      secretsDir: paths.secrets,
      suppressOutput: true,
    });
    const events = earlier.namespace("old").watchServices();
    await earlier.namespace("old").ensureService("leftover", { image: "sleeper", scale: 1 });
    const online = await nextEvent(events, (e) => e.status === "online");
    await events.return!();
    await earlier.close({ leaveRunning: true });
    assert.ok(isPidAlive(online.pid!));
    daemon = await Daemon.start({ stateDir, environment });
    await daemon.apply(state({ cache: sleeper() }));
    await daemon.shutdown({ stopServices: true });
    assert.equal(isPidAlive(online.pid!), false, "the leftover was stopped");
    assert.deepEqual(processesOfEnvironment(environment), []);
    daemon = await Daemon.start({ stateDir, environment });
  });
});
