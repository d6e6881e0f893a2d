// The real `corral` binary (bin/corral.js → dist) against a real daemon with real processes.
import assert from "node:assert/strict";
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, realpathSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { ProcessRow } from "../../src/server/process-table.js";
import { FIXTURES, isPidAlive, processesOfEnvironment, until, killEnvironment } from "../helpers.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "bin", "corral.js");

type Row = Pick<
  ProcessRow,
  "service" | "process" | "status" | "reason" | "pid" | "restarts" | "cpuNanoCores" | "memoryBytes" | "uptimeSeconds" | "addresses"
>;

describe("the corral command against a real daemon", () => {
  let project: string;
  // Its own environment: another checkout's run of this file on the same machine kills "e2e" processes when it ends.
  const environment = `e2e-${process.pid}`;
  const corral = (args: string[], timeout = 120_000): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [BIN, ...args], {
      cwd: project,
      encoding: "utf8",
      timeout,
      env: { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" },
    });
  const ps = (): Row[] => {
    const result = corral(["ps", "--json"]);
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as Row[];
  };
  const daemonPid = () => (JSON.parse(readFileSync(join(project, ".corral", "daemon.json"), "utf8")) as { pid: number }).pid;

  before(() => {
    assert.ok(existsSync(join(ROOT, "dist", "cli", "main.js")), "npm run build first (npm test does)");
    project = realpathSync(mkdtempSync(join(tmpdir(), "corral-e2e-")));
    cpSync(join(FIXTURES, "project"), project, { recursive: true });
    const file = join(project, "corral.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace(/^environment: e2e$/m, `environment: ${environment}`));
  });
  after(() => {
    if (existsSync(join(project, ".corral", "corral.sock"))) corral(["down"]);
    try {
      process.kill(daemonPid(), "SIGKILL");
    } catch {}
    killEnvironment(environment);
    rmSync(project, { recursive: true, force: true });
  });

  it("up -d starts every service in dependency order and returns once all are online", () => {
    const result = corral(["up", "-d"]);
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /\d+ process(es)? online/);
    const dbOnline = result.stdout.search(/db-0 online/);
    const webFirst = result.stdout.search(/web-\d/);
    assert.ok(dbOnline !== -1 && webFirst > dbOnline, `web starts only once db is ready:\n${result.stdout}`);
    const rows = ps();
    assert.deepEqual(
      rows.map((r) => `${r.service}-${r.process}:${r.status}`),
      ["db-0:online", "web-0:online", "web-1:online"],
    );
    for (const row of rows) {
      assert.ok(isPidAlive(row.pid!));
      assert.ok(row.memoryBytes! > 0);
      assert.equal(typeof row.uptimeSeconds, "number");
    }
    assert.equal(statSync(join(project, ".corral", "corral.sock")).mode & 0o777, 0o600, "the API socket is 0600");
    const human = corral(["ps"]);
    assert.match(human.stdout, /SERVICE\s+PROCESS\s+STATUS\s+PID/);
  });

  it("logs -f streams new lines", async () => {
    const follower = spawn(process.execPath, [BIN, "logs", "web", "-f", "--tail", "0"], {
      cwd: project,
      env: { ...process.env, NO_COLOR: "1" },
    });
    let out = "";
    follower.stdout.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await until(() => (out.match(/web-\d \| web heartbeat \d+ level=info/g) ?? []).length >= 3, "three new heartbeat lines");
    } finally {
      follower.kill("SIGINT");
    }
    const tail = corral(["logs", "db", "--tail", "1"]);
    assert.match(tail.stdout, /^db-0 \| db listening on /m);
  });

  it("scale changes the number of processes on the machine", async () => {
    const result = corral(["scale", "web=3"]);
    assert.equal(result.status, 0, result.stderr);
    // scale returns once the new process is launched, as compose's does; online follows its readiness probe.
    await until(() => ps().filter((r) => r.service === "web" && r.status === "online").length === 3, "three web processes online");
    assert.equal(processesOfEnvironment(environment).length, 4);
    assert.equal(corral(["scale", "web=zero"]).status, 2, "bad usage exits 2");
  });

  it("a changed file rolls only the service that changed", () => {
    const before = ps();
    const file = join(project, "corral.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace("LOG_LEVEL: info", "LOG_LEVEL: debug").replace("scale: 2", "scale: 3"));
    const result = corral(["up", "-d"]);
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /updated web; unchanged db/);
    const after = ps();
    assert.equal(after.find((r) => r.service === "db")!.pid, before.find((r) => r.service === "db")!.pid, "db untouched");
    for (const row of after.filter((r) => r.service === "web")) {
      assert.notEqual(row.pid, before.find((r) => r.service === "web" && r.process === row.process)!.pid, `web-${row.process} rolled`);
      assert.equal(row.status, "online");
    }
  });

  it("a malformed or invalid file gives one line with file:line and exit 2, and changes nothing", () => {
    const before = ps();
    const desired = readFileSync(join(project, ".corral", "desired.json"), "utf8");
    const file = join(project, "corral.yaml");
    const good = readFileSync(file, "utf8");
    try {
      writeFileSync(file, good.replace("scale: 3", "scale: -1"));
      let result = corral(["up", "-d"]);
      assert.equal(result.status, 2);
      assert.match(result.stderr.trim(), /^corral: .*corral\.yaml:\d+:\d+: services\.web\.scale: .+$/);
      assert.equal(result.stderr.trim().split("\n").length, 1, "one line");
      writeFileSync(file, `${good}\n  broken: [unclosed\n`);
      result = corral(["up", "-d"]);
      assert.equal(result.status, 2);
      assert.match(result.stderr, /corral\.yaml:\d+:\d+:/);
    } finally {
      writeFileSync(file, good);
    }
    assert.deepEqual(
      ps().map((r) => r.pid),
      before.map((r) => r.pid),
      "nothing restarted",
    );
    assert.equal(readFileSync(join(project, ".corral", "desired.json"), "utf8"), desired, "desired state untouched");
  });

  it("a daemon killed with SIGKILL and started again adopts every process and keeps serving", () => {
    const before = ps();
    const pid = daemonPid();
    process.kill(pid, "SIGKILL");
    assert.equal(corral(["ps"]).status, 3, "no daemon: exit 3");
    for (const row of before) assert.ok(isPidAlive(row.pid!), "processes outlive the daemon");
    const result = corral(["up", "-d"]);
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /unchanged db, web/);
    assert.notEqual(daemonPid(), pid);
    const after = ps();
    assert.deepEqual(
      after.map((r) => r.pid),
      before.map((r) => r.pid),
      "same PIDs: adopted, not restarted",
    );
    assert.equal(processesOfEnvironment(environment).length, before.length, "nothing duplicated");
  });

  it("down stops everything and the daemon", () => {
    const pids = ps().map((r) => r.pid!);
    const result = corral(["down"]);
    assert.equal(result.status, 0, result.stderr);
    for (const pid of pids) assert.equal(isPidAlive(pid), false);
    assert.deepEqual(processesOfEnvironment(environment), []);
    assert.equal(existsSync(join(project, ".corral", "corral.sock")), false);
  });
});

describe("the daemon's TCP listener", () => {
  it("refuses requests without the bearer token and serves them with it", async () => {
    const stateDir = realpathSync(mkdtempSync(join(tmpdir(), "corral-tcp-")));
    const daemon = spawn(process.execPath, [BIN, "daemon", "--state-dir", stateDir, "--environment", "tcp-test", "--tcp", "127.0.0.1:0"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      let out = "";
      daemon.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      const address = await until(() => /http:\/\/([\d.]+:\d+)/.exec(out)?.[1], "the daemon's TCP address");
      const [host, port] = address.split(":") as [string, string];
      const get = (headers: Record<string, string>) =>
        new Promise<number>((resolve, reject) =>
          request({ host, port: Number(port), path: "/v1/processes", headers }, (res) => (res.resume(), resolve(res.statusCode!)))
            .on("error", reject)
            .end(),
        );
      assert.equal(await get({}), 401);
      assert.equal(await get({ authorization: "Bearer wrong" }), 401);
      const token = readFileSync(join(stateDir, "token"), "utf8").trim();
      assert.equal(statSync(join(stateDir, "token")).mode & 0o777, 0o600);
      assert.equal(await get({ authorization: `Bearer ${token}` }), 200);
    } finally {
      daemon.kill("SIGTERM");
      await new Promise((r) => daemon.once("exit", r));
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it("refuses to serve a non-loopback address without authentication", () => {
    const stateDir = realpathSync(mkdtempSync(join(tmpdir(), "corral-tcp-")));
    try {
      const result = spawnSync(
        process.execPath,
        [BIN, "daemon", "--state-dir", stateDir, "--environment", "tcp-test", "--tcp", "0.0.0.0:0", "--no-auth"],
        { encoding: "utf8", timeout: 30_000 },
      );
      assert.equal(result.status, 2);
      assert.match(result.stderr, /noAuth: is allowed only on a loopback address/);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
