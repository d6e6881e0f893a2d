// Stable addresses through the real `corral` binary: `ps --json` carries every
// process's TCP address, and they are the same after the daemon is stopped
// with SIGTERM or killed with SIGKILL and the next `corral up -d` adopts the
// processes. `corral daemon -f` runs the file's `environment:`.
import assert from "node:assert/strict";
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { DaemonClient } from "../../src/cli/client.js";
import type { ProcessRow } from "../../src/server/process-table.js";
import { healthBody } from "../../src/server/wire.js";
import { FIXTURES, isPidAlive, killEnvironment, processesOfEnvironment, until } from "../helpers.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "bin", "corral.js");

/** A copy of the test project under its own environment name, removed (with every process of it) afterwards. */
function project(prefix: string): { dir: string; environment: string; cleanup(): void } {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  cpSync(join(FIXTURES, "project"), dir, { recursive: true });
  const environment = `addr-${randomBytes(3).toString("hex")}`;
  const file = join(dir, "corral.yaml");
  // TCP only where asked: a proxy per process of db's sql (tcpPerProcess) and web's http (the metrics port), and web's service address.
  const yaml = readFileSync(file, "utf8")
    .replace("environment: e2e", `environment: ${environment}`)
    .replace("ports: [sql]", "ports: [{ name: sql, tcpPerProcess: true }]")
    .replace("ports: [http]", "ports: [{ name: http, expose: true }, admin]\n    metrics: { port: http, path: / }");
  writeFileSync(file, yaml);
  return {
    dir,
    environment,
    cleanup() {
      killEnvironment(environment);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("TCP addresses across daemon restarts", { timeout: 300_000 }, () => {
  let p: ReturnType<typeof project>;
  const corral = (args: string[]): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [BIN, ...args], {
      cwd: p.dir,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" },
    });
  const ps = (): ProcessRow[] => {
    const result = corral(["ps", "--json"]);
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as ProcessRow[];
  };
  const servicePort = (): string => {
    const result = corral(["port", "web", "http"]);
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trim();
  };
  const daemonPid = () => (JSON.parse(readFileSync(join(p.dir, ".corral", "daemon.json"), "utf8")) as { pid: number }).pid;
  const up = () => {
    const result = corral(["up", "-d"]);
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  };

  before(() => {
    assert.ok(existsSync(join(ROOT, "dist", "cli", "main.js")), "npm run build first (npm test does)");
    p = project("corral-addresses-");
  });
  after(() => {
    if (existsSync(join(p.dir, ".corral", "corral.sock"))) corral(["down"]);
    try {
      process.kill(daemonPid(), "SIGKILL");
    } catch {}
    p.cleanup();
  });

  it("ps --json gives each process a TCP address for the ports that ask for one, and none for the others", () => {
    up();
    const rows = ps();
    assert.deepEqual(
      rows.map((r) => [`${r.service}-${r.process}`, Object.keys(r.tcpAddresses)]),
      [
        ["db-0", ["sql"]],
        ["web-0", ["http"]],
        ["web-1", ["http"]],
      ],
    );
    for (const row of rows) for (const address of Object.values(row.tcpAddresses)) assert.match(address, /^127\.0\.0\.1:\d+$/);
    assert.match(servicePort(), /^127\.0\.0\.1:\d+$/);
  });

  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    it(`are the same after the daemon is stopped with ${signal} and the next one adopts the processes`, async () => {
      const before = ps();
      const serviceBefore = servicePort();
      const pid = daemonPid();
      process.kill(pid, signal);
      await until(() => !isPidAlive(pid), "the daemon gone");
      for (const row of before) assert.ok(isPidAlive(row.pid!), "the processes outlive it");
      up();
      assert.notEqual(daemonPid(), pid);
      const after = ps();
      assert.deepEqual(
        after.map((r) => r.pid),
        before.map((r) => r.pid),
        "adopted",
      );
      assert.deepEqual(
        after.map((r) => r.tcpAddresses),
        before.map((r) => r.tcpAddresses),
        "the same TCP addresses",
      );
      assert.equal(servicePort(), serviceBefore, "the same service address");
      assert.equal(processesOfEnvironment(p.environment).length, before.length);
    });
  }
});

describe("corral daemon -f", { timeout: 120_000 }, () => {
  it("runs the environment the file names, as up would", async (t) => {
    const p = project("corral-daemon-env-");
    const daemon = spawn(process.execPath, [BIN, "daemon", "-f", join(p.dir, "corral.yaml")], {
      cwd: tmpdir(),
      env: { ...process.env, CORRAL_STATE_DIR: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    t.after(() => {
      daemon.kill("SIGKILL");
      p.cleanup();
    });
    let output = "";
    daemon.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    daemon.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await until(() => output.includes("API on") || daemon.exitCode !== null, "the daemon to start");
    assert.match(output, new RegExp(`environment ${p.environment}, API on ${join(p.dir, ".corral")}`), "the file's state dir too");
    const client = new DaemonClient({ socketPath: join(p.dir, ".corral", "corral.sock") });
    assert.equal((await client.get("/healthz", healthBody)).environment, p.environment);
    const exited = new Promise((resolve) => daemon.once("exit", resolve));
    daemon.kill("SIGTERM");
    await exited;
  });
});
