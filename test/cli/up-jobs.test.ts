// The real `corral` binary with one-shot jobs, crash loops, stuck applies and
// dead daemons: what `up` says and returns, what `down` stops — checked
// against /proc. Each test has its own project (and environment); every
// command is bounded far below the apply's own timeout (--timeout 300), so a
// pass shows `up` returned because it knew, not because time ran out.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { IMAGES, isPidAlive, killEnvironment, processesOfEnvironment, until } from "../helpers.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "bin", "corral.js");
const SLEEPER = join(IMAGES, "sleeper");
/** A one-shot job that completes, as services of a corral.yaml. */
const MIGRATED = `  migrate:
    command: sh
    args: ["-c", "echo migrated"]
    restart: never
`;
/** Each command's bound: far below `--timeout 300`. */
const COMMAND_BOUND_MS = 60_000;

interface Project {
  dir: string;
  environment: string;
  corral(args: string[]): SpawnSyncReturns<string>;
  /** A command left running (foreground up, or up -d that waits), with its output so far. */
  start(args: string[]): { child: ChildProcessWithoutNullStreams; out: () => string; err: () => string; exit: Promise<number | null> };
  daemonPid(): number | undefined;
}

let counter = 0;
const projects: Project[] = [];

/** A project of its own (and its environment) whose corral.yaml has these services (YAML, indented by two). */
function project(services: string): Project {
  const environment = `upjobs-${process.pid}-${++counter}`;
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "corral-upjobs-")));
  writeFileSync(join(dir, "corral.yaml"), `environment: ${environment}\nservices:\n${services}`);
  const env = { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" };
  const p: Project = {
    dir,
    environment,
    corral: (args) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: "utf8", timeout: COMMAND_BOUND_MS, env }),
    start(args) {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      return { child, out: () => out, err: () => err, exit };
    },
    daemonPid() {
      try {
        return (JSON.parse(readFileSync(join(dir, ".corral", "daemon.json"), "utf8")) as { pid: number }).pid;
      } catch {
        return undefined; // no daemon record: none runs
      }
    },
  };
  projects.push(p);
  return p;
}

const pidsOf = (p: Project): number[] => {
  const result = p.corral(["ps", "--json"]);
  assert.equal(result.status, 0, result.stderr);
  return (JSON.parse(result.stdout) as { pid: number | null }[]).flatMap((r) => (r.pid === null ? [] : [r.pid]));
};

describe("corral up with jobs, crash loops and stuck applies; corral down without a daemon", { timeout: 600_000 }, () => {
  afterEach(() => {
    for (const p of projects.splice(0)) {
      if (existsSync(join(p.dir, ".corral", "corral.sock"))) p.corral(["down"]);
      const pid = p.daemonPid();
      if (pid !== undefined && isPidAlive(pid)) process.kill(pid, "SIGKILL");
      killEnvironment(p.environment);
      rmSync(p.dir, { recursive: true, force: true });
    }
  });

  it("a job that fails fails up -d at once, with its exit status, its stderr and the services it blocked", () => {
    const p = project(`  migrate:
    command: sh
    args: ["-c", "echo migrating; echo 'migration 42 failed: relation users is missing' >&2; exit 3"]
    restart: never
  api:
    command: ${SLEEPER}
    dependsOn: { migrate: completed }
  web:
    command: ${SLEEPER}
    dependsOn: { api: ready }
`);
    const result = p.corral(["up", "-d", "--timeout", "300"]);
    assert.equal(result.signal, null, "up returned by itself, long before its timeout");
    assert.equal(result.status, 1, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, /job migrate-0 failed: exited with status 3/);
    assert.match(result.stderr, /migrate-0 \| migration 42 failed: relation users is missing/);
    assert.match(result.stderr, /not started, blocked by migrate: api, web/);
    assert.deepEqual(processesOfEnvironment(p.environment), [], "the job is over and nothing that waited for it started");
  });

  it("a job that completes lets up -d succeed and its dependent start", () => {
    const p = project(`${MIGRATED}  api:
    command: ${SLEEPER}
    dependsOn: { migrate: completed }
`);
    const result = p.corral(["up", "-d", "--timeout", "300", "--wait-settle", "200ms"]);
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /migrate-0 offline \(completed\) .*final/);
    assert.match(result.stdout, /1 process online, 1 job completed/, "a completed job is not called online");
    const rows = JSON.parse(p.corral(["ps", "--json"]).stdout) as {
      service: string;
      status: string;
      reason: string | null;
      pid: number | null;
    }[];
    assert.deepEqual(
      rows.map((r) => [r.service, r.status, r.reason]),
      [
        ["api", "online", null],
        ["migrate", "offline", "completed"],
      ],
    );
    assert.ok(isPidAlive(rows[0]!.pid!), "api runs");
    assert.deepEqual(processesOfEnvironment(p.environment), [rows[0]!.pid]);
  });

  it("a crash-looping service fails up -d with the last stderr lines of the crashing process", () => {
    const p = project(`  flaky:
    command: sh
    args: ["-c", "echo starting; sleep 0.3; echo 'fatal: cannot parse flaky.conf' >&2; exit 1"]
  steady:
    command: ${SLEEPER}
`);
    const result = p.corral(["up", "-d", "--timeout", "300"]);
    assert.equal(result.signal, null);
    assert.equal(result.status, 1, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, /flaky-0 is crash-looping: it exited with status 1/);
    assert.match(result.stderr, /flaky-0 \| fatal: cannot parse flaky\.conf/);
    assert.doesNotMatch(result.stdout, /\d+ process(es)? online/);
  });

  it("down during a stuck apply returns, interrupts it, and leaves nothing running; ps says why the dependency is not ready", async () => {
    const p = project(`  db:
    command: ${SLEEPER}
    ports: [sql]
    readiness: { socket: sql, periodMs: 100 }
  web:
    command: ${SLEEPER}
    dependsOn: { db: ready }
`);
    const up = p.start(["up", "-d", "--timeout", "300"]);
    await until(
      () => /db-0 offline \(starting\) .*\(connect ENOENT /.test(up.out()),
      "db starting, with the probe's error",
      COMMAND_BOUND_MS,
    );
    const rows = JSON.parse(p.corral(["ps", "--json"]).stdout) as { service: string; reason: string; message: string | null }[];
    assert.match(rows.find((r) => r.service === "db")!.message ?? "", /^connect ENOENT .*sql-0$/);
    assert.match(p.corral(["ps"]).stdout, /MESSAGE[\s\S]*connect ENOENT/);
    const down = p.corral(["down"]);
    assert.equal(down.signal, null, "down returned by itself");
    assert.equal(down.status, 0, down.stderr);
    assert.equal(await up.exit, 1);
    assert.match(up.err(), /the apply was interrupted: the daemon is stopping every service/);
    assert.deepEqual(processesOfEnvironment(p.environment), []);
  });

  for (const signal of ["SIGKILL", "SIGTERM"] as const) {
    it(`down after the daemon was ${signal}ed stops every process`, async () => {
      const p = project(`  db:
    command: ${SLEEPER}
  web:
    command: sh
    args: ["-c", "${SLEEPER} & wait"]
    scale: 2
    dependsOn: { db: ready }
`);
      assert.equal(p.corral(["up", "-d", "--wait-settle", "0"]).status, 0);
      const pids = pidsOf(p);
      const running = processesOfEnvironment(p.environment);
      assert.equal(running.length, 5, "db, two shells and their sleepers");
      const daemon = p.daemonPid()!;
      process.kill(daemon, signal);
      await until(() => !isPidAlive(daemon), "the daemon gone");
      for (const pid of running) assert.ok(isPidAlive(pid), "the services outlive the daemon");
      const result = p.corral(["down"]);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /stopped db, web; no daemon is running/);
      for (const pid of [...pids, ...running]) assert.equal(isPidAlive(pid), false, `pid ${pid} stopped`);
      assert.deepEqual(processesOfEnvironment(p.environment), []);
      assert.deepEqual(
        readdirSync(join(p.dir, ".corral", "run")).filter((name) => name !== "logs"),
        [],
        "no run directory left",
      );
      assert.match(p.corral(["down"]).stdout, /nothing to stop/, "a second down has nothing left");
    });
  }

  it("a down whose daemon dies meanwhile finishes the job", async () => {
    const p = project(`  db:
    command: ${SLEEPER}
  slow:
    command: sh
    args: ["-c", "trap 'echo TERM > term-received' TERM; while :; do sleep 0.1; done"]
    stopGracePeriod: 2s
    dependsOn: { db: ready }
`);
    assert.equal(p.corral(["up", "-d", "--wait-settle", "0"]).status, 0);
    const running = processesOfEnvironment(p.environment);
    const daemon = p.daemonPid()!;
    const down = p.start(["down"]);
    await until(() => existsSync(join(p.dir, "term-received")), "slow asked to stop", COMMAND_BOUND_MS);
    process.kill(daemon, "SIGKILL");
    assert.equal(await down.exit, 0, down.err());
    assert.match(down.out(), /died before it had stopped every service/);
    for (const pid of running) assert.equal(isPidAlive(pid), false, `pid ${pid} stopped`);
    assert.deepEqual(processesOfEnvironment(p.environment), []);
  });

  const ciProject = `${MIGRATED}  server:
    command: ${SLEEPER}
    dependsOn: { migrate: completed }
  tests:
    command: sh
    args: ["-c", "sleep 0.3; echo 'tests: 3 failed' >&2; exit 7"]
    restart: never
    dependsOn: { server: ready }
`;

  it("--exit-code-from exits with that service's status and stops everything; the output shows each process from its start", () => {
    const p = project(ciProject);
    const result = p.corral(["up", "--exit-code-from", "tests", "--timeout", "300"]);
    assert.equal(result.status, 7, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^migrate-0 +\| migrated$/m, "a job's output, though it ended before anything was online");
    assert.match(result.stdout, /^tests-0 +\| tests: 3 failed$/m);
    assert.match(result.stdout, /tests-0 offline \(exited\) .*exit=7/, "the exit, inline");
    assert.match(result.stdout, /aborting on process exit: tests-0 exited with status 7/);
    assert.match(result.stdout, /every service stopped; daemon gone/);
    assert.deepEqual(processesOfEnvironment(p.environment), []);
  });

  it("--exit-code-from a service that was still running: its status when the stop ended it (143 for SIGTERM)", () => {
    const p = project(ciProject);
    const result = p.corral(["up", "--exit-code-from", "server", "--timeout", "300"]);
    assert.equal(result.status, 143, `${result.stdout}\n${result.stderr}`);
    assert.deepEqual(processesOfEnvironment(p.environment), []);
  });

  it("--abort-on-exit stops everything when one process ends, with its status; a completed prerequisite job does not count", () => {
    const p = project(`${MIGRATED}  web:
    command: ${SLEEPER}
    dependsOn: { migrate: completed }
  worker:
    command: sh
    args: ["-c", "echo working; sleep 1; exit 5"]
    dependsOn: { web: ready }
`);
    const result = p.corral(["up", "--abort-on-exit", "--timeout", "300"]);
    assert.equal(result.status, 5, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /aborting on process exit: worker-0 exited with status 5/);
    assert.deepEqual(processesOfEnvironment(p.environment), []);
    assert.equal(existsSync(join(p.dir, ".corral", "corral.sock")), false, "the daemon is gone");
  });

  it("--abort-on-exit and --exit-code-from are foreground only; --exit-code-from names a service of the file", () => {
    const p = project(`  a:\n    command: ${SLEEPER}\n`);
    const detached = p.corral(["up", "-d", "--abort-on-exit"]);
    assert.equal(detached.status, 2);
    assert.match(detached.stderr, /--abort-on-exit and --detach are incompatible/);
    const unknown = p.corral(["up", "--exit-code-from", "nope"]);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /--exit-code-from: no service "nope"/);
    assert.equal(p.corral(["up", "-d", "--wait-settle", "soon"]).status, 2);
    assert.deepEqual(processesOfEnvironment(p.environment), [], "nothing was started");
  });
});
