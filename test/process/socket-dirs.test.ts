// Ports with socketDir: each process gets a directory and listens on
// <dir>/<socketFile>; the readiness probe, the TCP proxy and addresses() use
// that socket, and a path too long for a Unix socket moves to the temp dir.
import assert from "node:assert/strict";
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { basename, dirname, join } from "node:path";
import { describe, it } from "node:test";
import { ValidationError } from "../../src/contract/errors.js";
import type { ServiceConfig } from "../../src/contract/types.js";
import { ensureOwnedDirectory } from "../../src/process/owned-dirs.js";
import { orchestratorPerSuite, testEnvironment, untilAllOnline, withTempDir } from "../helpers.js";

function ask(options: { path: string } | { port: number; host: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = "path" in options ? connect(options.path) : connect(options.port, options.host);
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("end", () => resolve(data.trim()));
    socket.on("error", reject);
  });
}

const inDirectory = (scale: number, socketFile = ".s.server"): ServiceConfig => ({
  image: "server.mjs",
  args: (a) => [join(a.socketDirs!.sql!, socketFile), String(a.processIndex)],
  ports: [{ name: "sql", socketDir: true, socketFile }],
  scale,
  readiness: { socket: "sql" },
});

describe("socket directories", () => {
  const suite = orchestratorPerSuite("sockdir", { tcpProxy: { listenAddr: "127.0.0.1" } });

  it("gives each process a directory; probes, the proxy and addresses() follow the socket inside it", async () => {
    const ns = suite.orchestrator.namespace("d");
    const events = ns.watchServices();
    const service = await ns.ensureService("pg", inDirectory(2));
    const online = await untilAllOnline(events, "pg", 2);
    const addresses = service.addresses("sql");
    const runDir = join(suite.env.config.stateDir!, "d-pg");
    assert.deepEqual(addresses, [join(runDir, "sql-0", ".s.server"), join(runDir, "sql-1", ".s.server")]);
    assert.equal(statSync(dirname(addresses[0]!)).mode & 0o777, 0o700, "a socket directory is private");
    assert.equal(await ask({ path: addresses[1]! }), `hello ${online[1]!.pid} 1`);
    const [host, port] = service.tcpAddresses("sql")[0]!.split(":");
    assert.equal(await ask({ host: host!, port: Number(port) }), `hello ${online[0]!.pid} 0`);
    // What ps and the API show: the directory, which clients such as psql -h take.
    assert.deepEqual(
      ns.addressesOf("pg").map((a) => a.unix.sql),
      addresses.map((a) => dirname(a)),
    );
    await ns.dropService("pg");
    assert.ok(!existsSync(runDir));
    await events.return!();
  });

  it("moves a directory whose socket path would be too long to the temp dir, and removes it on drop", async () => {
    const longEnv = testEnvironment("sockdir-long");
    try {
      const deep = join(longEnv.root, "state", "x".repeat(60), "y".repeat(20));
      const ns = (await longEnv.create({ stateDir: deep })).namespace("n");
      // 64 bytes of socketFile fit in neither place: refused before anything starts.
      await assert.rejects(
        ns.ensureService("svc", inDirectory(1, "f".repeat(64))),
        (error: unknown) =>
          error instanceof ValidationError && error.field === "ports.sql.socketFile" && /longer than the 107 bytes/.test(error.rule),
      );
      const events = ns.watchServices();
      const [address] = (await ns.ensureService("svc", inDirectory(1))).addresses("sql");
      assert.ok(Buffer.byteLength(join(deep, "n-svc", "sql-0", ".s.server")) > 107);
      assert.match(basename(dirname(address!)), /^[0-9a-f]{40}$/);
      assert.ok(Buffer.byteLength(address!) <= 107);
      const [online] = await untilAllOnline(events, "svc", 1);
      assert.equal(await ask({ path: address! }), `hello ${online!.pid} 0`);
      await ns.dropService("svc");
      assert.ok(!existsSync(dirname(address!)), "the hashed directory outside the run directory is removed on drop");
      await events.return!();
    } finally {
      await longEnv.cleanup();
    }
  });

  it("refuses a socketDir port without a socketFile, and a socketFile without socketDir", async () => {
    const ns = suite.orchestrator.namespace("bad");
    await assert.rejects(
      ns.ensureService("s", { image: "sleeper", scale: 1, ports: [{ name: "sql", socketFile: "x" }] }),
      (error: unknown) => error instanceof ValidationError && error.field === "ports[0].socketFile",
    );
    await assert.rejects(
      ns.ensureService("s", { image: "sleeper", scale: 1, ports: [{ name: "sql", socketDir: true }] }),
      (error: unknown) => error instanceof ValidationError && error.field === "ports[0].socketFile",
    );
  });
});

describe("ensureOwnedDirectory", () => {
  it("replaces a symlink planted where the directory belongs, and never changes what it points at", async (t) => {
    await withTempDir(t, "corral-owned-", async (dir) => {
      const victim = join(dir, "victim");
      mkdirSync(victim, { mode: 0o755 });
      const planted = join(dir, "sql-0");
      symlinkSync(victim, planted);
      ensureOwnedDirectory(planted, 0o700, { uid: 65534, gid: 65534 });
      assert.ok(lstatSync(planted).isDirectory(), "a real directory now");
      assert.deepEqual([statSync(planted).uid, statSync(planted).mode & 0o777], [65534, 0o700]);
      assert.deepEqual([statSync(victim).uid, statSync(victim).mode & 0o777], [0, 0o755], "the link's target is untouched");
      rmSync(planted, { recursive: true });
      mkdirSync(planted, { mode: 0o777 });
      ensureOwnedDirectory(planted, 0o700);
      assert.equal(statSync(planted).mode & 0o777, 0o700, "an existing directory gets the mode");
    });
  });

  it("replaces a directory someone else made in its place (in the temp dir), when asked to", async (t) => {
    await withTempDir(t, "corral-owned-", async (dir) => {
      const path = join(dir, "sql-0");
      mkdirSync(path);
      writeFileSync(join(path, "left-by-a-stranger"), "");
      chownSync(path, 12345, 12345);
      ensureOwnedDirectory(path, 0o700, { uid: 65534, gid: 65534 }, { replaceForeign: true });
      assert.deepEqual([statSync(path).uid, readdirSync(path)], [65534, []], "a fresh directory, the service user's");
      ensureOwnedDirectory(path, 0o700, { uid: 0, gid: 0 });
      assert.equal(statSync(path).uid, 0, "without replaceForeign an existing directory is handed over");
    });
  });
});
