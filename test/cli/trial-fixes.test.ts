// Defects a new user found in a trial of the real `corral` binary (issue 12's
// follow-up): projects with the same folder name, deep project folders, a
// frozen daemon, secrets before the first up, and the like. Every project has
// its own folder; processes are checked in /proc and cleaned up by PID.
import assert from "node:assert/strict";
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { statePaths } from "../../src/server/state-dir.js";
import { IMAGES, isPidAlive, killEnvironment } from "../helpers.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "bin", "corral.js");
const SLEEPER = join(IMAGES, "sleeper");
const COMMAND_BOUND_MS = 60_000;

interface Project {
  dir: string;
  corral(args: string[], input?: string): SpawnSyncReturns<string>;
  pids(): number[];
  daemonPid(): number | undefined;
}

const roots: string[] = [];
const started: { project: Project; environment: string }[] = [];
const seenPids = new Set<number>();

function tempRoot(): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), "corral-trial-")));
  roots.push(root);
  return root;
}

/** A project in `dir` (made), whose corral.yaml is `yaml`; its environment is named after the folder unless the file says. */
function project(dir: string, yaml: string, environment: string): Project {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "corral.yaml"), yaml);
  const env = { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" };
  const p: Project = {
    dir,
    corral: (args, input) =>
      spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: "utf8", timeout: COMMAND_BOUND_MS, env, input: input ?? "" }),
    pids() {
      const result = p.corral(["ps", "--json"]);
      assert.equal(result.status, 0, result.stderr);
      const pids = (JSON.parse(result.stdout) as { pid: number | null }[]).flatMap((r) => (r.pid === null ? [] : [r.pid]));
      for (const pid of pids) seenPids.add(pid);
      return pids;
    },
    daemonPid() {
      try {
        return (JSON.parse(readFileSync(join(dir, ".corral", "daemon.json"), "utf8")) as { pid: number }).pid;
      } catch {
        return undefined; // no daemon record: none runs
      }
    },
  };
  started.push({ project: p, environment });
  return p;
}

after(() => {
  for (const { project: p, environment } of started.splice(0)) {
    const pid = p.daemonPid();
    if (pid !== undefined && isPidAlive(pid)) {
      process.kill(pid, "SIGCONT");
      p.corral(["down"]);
    }
    const still = p.daemonPid();
    if (still !== undefined && isPidAlive(still)) process.kill(still, "SIGKILL");
    killEnvironment(environment);
  }
  for (const pid of seenPids) if (isPidAlive(pid)) process.kill(pid, "SIGKILL");
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

const sleeperYaml = (environment?: string) =>
  `${environment ? `environment: ${environment}\n` : ""}services:\n  web:\n    command: ${SLEEPER}\n    scale: 2\n`;

describe("corral as a new user tries it", { timeout: 600_000 }, () => {
  it("two projects whose folders have the same name do not touch each other's processes", () => {
    const root = tempRoot();
    // The same folder name gives the same environment id; the name is unique to this test run.
    const name = `app-${process.pid}`;
    const a = project(join(root, "a", name), sleeperYaml(), name);
    const b = project(join(root, "b", name), sleeperYaml(), name);
    for (const p of [a, b]) {
      const up = p.corral(["up", "-d"]);
      assert.equal(up.status, 0, up.stdout + up.stderr);
    }
    const aPids = a.pids();
    const bPids = b.pids();
    assert.equal(aPids.length, 2);
    assert.equal(bPids.length, 2);
    assert.ok(aPids.every(isPidAlive), "b's up left a's processes running");
    const down = b.corral(["down"]);
    assert.equal(down.status, 0, down.stderr);
    assert.ok(
      bPids.every((pid) => !isPidAlive(pid)),
      "b's down stopped b's processes",
    );
    assert.ok(aPids.every(isPidAlive), "b's down left a's processes running");
    assert.deepEqual(a.pids().sort(), aPids.sort(), "a still reports the same processes");
    const aDown = a.corral(["down"]);
    assert.equal(aDown.status, 0, aDown.stderr);
    assert.ok(aPids.every((pid) => !isPidAlive(pid)));
  });

  it("a project folder too deep for a Unix socket path still gets a daemon, on a short 0700 socket the CLI finds", () => {
    const root = tempRoot();
    const name = `deep-${process.pid}`;
    const dir = join(root, "a".repeat(40), "b".repeat(40), name);
    assert.ok(Buffer.byteLength(join(dir, ".corral", "corral.sock")) > 107);
    const p = project(dir, sleeperYaml(), name);
    const up = p.corral(["up", "-d"]);
    assert.equal(up.status, 0, up.stdout + up.stderr);
    const pids = p.pids();
    assert.equal(pids.length, 2);
    const socket = statePaths(join(dir, ".corral")).socket;
    assert.ok(Buffer.byteLength(socket) <= 107, socket);
    assert.equal(statSync(socket).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(socket)).mode & 0o777, 0o700);
    const down = p.corral(["down"]);
    assert.equal(down.status, 0, down.stderr);
    assert.ok(pids.every((pid) => !isPidAlive(pid)));
    assert.ok(!existsSync(dirname(socket)), "the short socket directory goes with the daemon");
  });

  it("a SIGSTOPped daemon: ps fails with a clear error instead of hanging; down kills it (by its recorded identity) and stops the services", () => {
    const root = tempRoot();
    const name = `frozen-${process.pid}`;
    const p = project(join(root, name), sleeperYaml(), name);
    const up = p.corral(["up", "-d"]);
    assert.equal(up.status, 0, up.stdout + up.stderr);
    const pids = p.pids();
    const daemon = p.daemonPid();
    assert.ok(daemon !== undefined && isPidAlive(daemon));
    process.kill(daemon, "SIGSTOP");
    const ps = p.corral(["ps"]);
    assert.equal(ps.status, 1, ps.stdout + ps.stderr);
    assert.match(ps.stderr, /accepted the connection but did not answer GET \S+ within \d+ s/);
    const down = p.corral(["down"]);
    assert.equal(down.status, 0, down.stdout + down.stderr);
    assert.match(down.stdout, new RegExp(`daemon \\(pid ${daemon}\\) does not answer`));
    assert.ok(!isPidAlive(daemon), "the frozen daemon is gone");
    assert.ok(
      pids.every((pid) => !isPidAlive(pid)),
      "every service process is stopped",
    );
    assert.equal(p.daemonPid(), undefined);
  });

  it("secrets set works before the first up (no daemon), from stdin less its newline, or at a prompt that does not echo; ps names a missing secret", async () => {
    const root = tempRoot();
    const name = `secrets-${process.pid}`;
    const yaml = `services:
  web:
    command: ${SLEEPER}
    secrets: [db-password, typed]
  api:
    command: ${SLEEPER}
    secrets: [api-key]
`;
    const p = project(join(root, name), yaml, name);
    const piped = p.corral(["secrets", "set", "db-password"], "s3cret\n");
    assert.equal(piped.status, 0, piped.stderr);
    assert.match(piped.stdout, /secret db-password set \(no daemon is running/);
    assert.equal(p.daemonPid(), undefined, "no daemon was started for it");
    const file = join(p.dir, ".corral", "secrets", "db-password");
    assert.equal(readFileSync(file, "utf8"), "s3cret", "one trailing newline is not part of the value");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(file)).mode & 0o777, 0o700);

    // A terminal: `script` gives the command a pty; the value is typed once the prompt shows.
    const tty = spawn("script", ["-qec", `${process.execPath} ${BIN} secrets set typed`, "/dev/null"], {
      cwd: p.dir,
      env: { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" },
    });
    let screen = "";
    tty.stdout.on("data", (d: Buffer) => (screen += d.toString()));
    const exited = new Promise<number | null>((resolve) => tty.once("exit", (code) => resolve(code)));
    const deadline = Date.now() + COMMAND_BOUND_MS;
    while (!screen.includes("value of secret typed: ")) {
      assert.ok(Date.now() < deadline, `no prompt; the terminal shows ${JSON.stringify(screen)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    tty.stdin.write("hunter2\r");
    assert.equal(await exited, 0, screen);
    assert.ok(!screen.includes("hunter2"), `the typed value was echoed: ${JSON.stringify(screen)}`);
    assert.equal(readFileSync(join(p.dir, ".corral", "secrets", "typed"), "utf8"), "hunter2");

    const up = p.corral(["up", "-d", "--timeout", "20"]);
    assert.equal(up.status, 1, up.stdout + up.stderr);
    assert.match(up.stderr, /api-0 .*secret "api-key" is not set/);
    const rows = JSON.parse(p.corral(["ps", "--json"]).stdout) as {
      service: string;
      status: string;
      message: string | null;
      pid: number | null;
    }[];
    for (const row of rows) if (row.pid !== null) seenPids.add(row.pid);
    assert.equal(rows.find((r) => r.service === "web")?.status, "online", "web got both secrets it needs");
    const api = rows.find((r) => r.service === "api");
    assert.match(api?.message ?? "", /secret "api-key" is not set/, JSON.stringify(api));
    const table = p.corral(["ps"]).stdout;
    assert.match(table, /api .*secret "api-key" is not set/);
    const down = p.corral(["down"]);
    assert.equal(down.status, 0, down.stderr);
  });

  it("placeholders in env values are filled in per process, as in args; a wrong one is refused at its line", () => {
    const root = tempRoot();
    const name = `envtpl-${process.pid}`;
    const yaml = `volumes:
  data: {}
services:
  web:
    command: ${SLEEPER}
    scale: 2
    disk: true
    ports: [http, { name: sql, socketDir: true, socketFile: .s.PGSQL.5432 }]
    volumes: [data]
    secrets: [token]
    env:
      LISTEN: "unix:%P:http"
      SOCKDIR: "%D:sql"
      DATA: "%V:data/db"
      SCRATCH: "%S"
      SECRETS: "%C"
      WHO: "%N-%I"
      PLAIN: "100%"
`;
    const p = project(join(root, name), yaml, name);
    assert.equal(p.corral(["secrets", "set", "token"], "t\n").status, 0);
    const up = p.corral(["up", "-d"]);
    assert.equal(up.status, 0, up.stdout + up.stderr);
    const rows = JSON.parse(p.corral(["ps", "--json"]).stdout) as { process: number; pid: number; addresses: Record<string, string> }[];
    assert.equal(rows.length, 2);
    for (const row of rows) {
      seenPids.add(row.pid);
      const env = Object.fromEntries(
        readFileSync(`/proc/${row.pid}/environ`, "utf8")
          .split("\0")
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
      );
      assert.equal(env.LISTEN, `unix:${row.addresses.http}`);
      assert.equal(env.SOCKDIR, row.addresses.sql, "ps shows a socketDir port by its directory");
      assert.equal(env.DATA, `${env.CORRAL_VOLUME_DATA}/db`);
      assert.equal(env.SCRATCH, env.CORRAL_SCRATCH_DIR);
      assert.equal(env.SECRETS, env.CORRAL_SECRETS_DIR);
      assert.equal(env.WHO, `default-web-${row.process}`);
      assert.equal(env.PLAIN, "100%");
    }
    // The table names every port's Unix socket (and socket directory), beside a TCP address where there is one.
    const table = p.corral(["ps"]).stdout;
    const full = JSON.parse(p.corral(["ps", "--json"]).stdout) as {
      addresses: Record<string, string>;
      tcpAddresses: Record<string, string>;
    }[];
    for (const row of full) {
      for (const [port, unix] of Object.entries(row.addresses)) {
        const tcp = row.tcpAddresses[port];
        assert.ok(
          table.includes(`${port}=${tcp !== undefined ? `${tcp} (${unix})` : unix}`),
          `${port} of ${JSON.stringify(row)} in:\n${table}`,
        );
      }
    }
    assert.equal(p.corral(["down"]).status, 0);

    writeFileSync(join(p.dir, "corral.yaml"), `services:\n  web:\n    command: ${SLEEPER}\n    env:\n      ADDR: "%P:nope"\n`);
    const bad = p.corral(["up", "-d"]);
    assert.equal(bad.status, 2, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /corral\.yaml:5:\d+: services\.web\.env\.ADDR: %P:nope names no port of the service/);
    assert.equal(p.daemonPid(), undefined, "a refused file starts no daemon");
  });

  it("ps shows services that wait or are blocked; after up -d --timeout the daemon still starts the waiting ones", async () => {
    const root = tempRoot();
    const name = `pending-${process.pid}`;
    const dir = join(root, name);
    const ready = join(dir, "db-ready");
    const yaml = `services:
  db:
    command: ${SLEEPER}
    readiness: { exec: [test, -f, ${ready}], periodMs: 100 }
  web:
    command: ${SLEEPER}
    dependsOn: { db: ready }
  migrate:
    command: sh
    args: ["-c", "exit 3"]
    restart: never
  api:
    command: ${SLEEPER}
    dependsOn: { migrate: completed }
`;
    const p = project(dir, yaml, name);
    const up = p.corral(["up", "-d", "--timeout", "3"]);
    assert.equal(up.status, 1, up.stdout + up.stderr);
    const rows = () => {
      const result = p.corral(["ps", "--json"]);
      assert.equal(result.status, 0, result.stderr);
      const parsed = JSON.parse(result.stdout) as {
        service: string;
        status: string;
        reason: string | null;
        message: string | null;
        pid: number | null;
      }[];
      for (const row of parsed) if (row.pid !== null) seenPids.add(row.pid);
      return parsed;
    };
    const before = rows();
    const web = before.find((r) => r.service === "web");
    assert.equal(web?.reason, "waiting", JSON.stringify(before));
    assert.match(web?.message ?? "", /waiting for db to be ready/);
    const api = before.find((r) => r.service === "api");
    assert.equal(api?.reason, "blocked", JSON.stringify(before));
    assert.match(api?.message ?? "", /blocked by migrate: migrate-0 exited with status 3/);
    assert.match(p.corral(["ps"]).stdout, /web +0 +offline \(waiting\)/);

    writeFileSync(ready, "");
    const deadline = Date.now() + COMMAND_BOUND_MS;
    for (;;) {
      const now = rows().find((r) => r.service === "web");
      if (now?.status === "online") break;
      assert.ok(Date.now() < deadline, `web never started after db became ready: ${JSON.stringify(now)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(p.corral(["down"]).status, 0);
  });
});
