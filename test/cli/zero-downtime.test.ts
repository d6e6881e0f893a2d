// Zero-downtime changes through the service address, with real load: wrk over
// the exposed TCP address and a bounded Node keep-alive loop over the Unix
// socket run while `corral restart`, a scale 3→1→3 and a rolling env change
// go through; neither sees a failed request. The same loop against one
// process's own socket during a restart does fail: what the drain prevents.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DaemonClient } from "../../src/cli/client.js";
import { FIXTURES, IMAGES, until } from "../helpers.js";
import { realProject, type RealProject } from "./project.js";

function safeReadlink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return ""; // the descriptor closed while we listed them
  }
}

const WRK = spawnSync("sh", ["-c", "command -v wrk"], { encoding: "utf8" }).stdout.trim();

const file = (greeting: string) => `services:
  web:
    command: ./http-graceful.mjs
    args: ["%P:http", "%I"]
    ports: [{ name: http, expose: true }, admin]
    scale: 3
    readiness: { socket: http, periodMs: 100 }
    drainMs: 300ms
    env: { GREETING: ${greeting} }
`;

/** The Unix-socket load generator in its own process (the test's event loop blocks in spawnSync); resolves once it runs. */
async function unixLoad(socketPath: string) {
  const child = spawn(process.execPath, [join(FIXTURES, "load", "unix-http-load.mjs"), socketPath, "8", "120"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await until(() => out.startsWith("running\n"), "the load generator to start", 10_000);
  return {
    async stop(): Promise<{ ok: number; failed: number; errors: Record<string, number> }> {
      child.kill("SIGINT");
      await exited;
      return JSON.parse(out.slice("running\n".length)) as { ok: number; failed: number; errors: Record<string, number> };
    },
  };
}

/** wrk against `address` until stop(); resolves with its counts. */
function wrkLoad(address: string) {
  const wrk = spawn(WRK, ["-t1", "-c8", "-d120s", `http://${address}/`], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  wrk.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  wrk.stderr.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  const exited = new Promise<void>((resolve) => wrk.once("exit", () => resolve()));
  return {
    async stop() {
      // wrk stops on SIGINT and prints what it measured so far.
      wrk.kill("SIGINT");
      await exited;
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? "0");
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0");
      return { requests, errors, non2xx, out };
    },
  };
}

describe(
  "zero-downtime changes through the service address",
  { timeout: 300_000, skip: WRK === "" ? "wrk is not installed" : false },
  () => {
    let p: RealProject;
    const corral = (...args: string[]) => {
      const result = p.corral(args);
      assert.equal(result.status, 0, `corral ${args.join(" ")}: ${result.stdout}\n${result.stderr}`);
      return result.stdout.trim();
    };
    const allOnline = (count: number) => (rows: ReturnType<RealProject["ps"]>) =>
      rows.filter((r) => r.service === "web").length === count && rows.every((r) => r.status === "online");

    before(async () => {
      p = realProject("corral-zero-downtime-");
      copyFileSync(join(IMAGES, "http-graceful.mjs"), join(p.dir, "http-graceful.mjs"));
      writeFileSync(join(p.dir, "corral.yaml"), file("one"));
      corral("up", "-d");
      await p.waitForRows("3 processes online", allOnline(3));
    });
    after(() => p.cleanup());

    it("restart, scale 3→1→3 and a rolling env change fail no request, over TCP (wrk) and the Unix socket", async (t) => {
      const tcp = corral("port", "web", "http");
      const unix = corral("port", "web", "http", "--unix");
      assert.match(tcp, /^127\.0\.0\.1:\d+$/);
      assert.match(unix, /-web\/http$|^\/tmp\/[0-9a-f]{40}$/, "<runDir>/http");
      const loads = { wrk: wrkLoad(tcp), unix: await unixLoad(unix) };

      corral("restart", "web");
      await p.waitForRows("3 online after the restart", allOnline(3));
      corral("scale", "web=1");
      await p.waitForRows("1 process", allOnline(1));
      corral("scale", "web=3");
      await p.waitForRows("3 processes again", allOnline(3));
      writeFileSync(join(p.dir, "corral.yaml"), file("two"));
      corral("up", "-d");
      await p.waitForRows("3 online after the rolling change", allOnline(3));
      const answer = await new Promise<string>((resolve, reject) => {
        request({ socketPath: unix, path: "/", agent: false }, (response) => {
          let body = "";
          response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
          response.on("end", () => resolve(body));
        })
          .on("error", reject)
          .end();
      });
      assert.match(answer, /^two \d+ \d\n$/, "the rolling change went through");

      const [wrk, loop] = [await loads.wrk.stop(), await loads.unix.stop()];
      t.diagnostic(
        `wrk: ${wrk.requests} requests, ${wrk.errors} socket errors, ${wrk.non2xx} non-2xx; unix loop: ${loop.ok} ok, ${loop.failed} failed`,
      );
      assert.ok(wrk.requests > 100, `wrk made requests:\n${wrk.out}`);
      assert.equal(wrk.errors, 0, `no socket errors through the TCP service address:\n${wrk.out}`);
      assert.equal(wrk.non2xx, 0, `no failed responses:\n${wrk.out}`);
      assert.ok(loop.ok > 100, `the Unix loop made requests (${loop.ok})`);
      assert.equal(loop.failed, 0, `no failures through the Unix service address: ${JSON.stringify(loop.errors)}`);

      // The edge in /metrics: what went through, what was drained, and nothing failed.
      const metrics = await new DaemonClient({ socketPath: p.paths.socket }).text("/metrics");
      const series = (name: string) =>
        Number(new RegExp(`^${name}\\{namespace="default",service="web",port="http"\\} (\\d+)$`, "m").exec(metrics)?.[1]);
      assert.ok(series("corral_service_connections_total") >= 16, metrics);
      assert.ok(series("corral_service_drained_connections_total") > 0, "keep-alive connections were open on the processes that left");
      assert.equal(series("corral_service_failed_connections_total"), 0);
      assert.ok(series("corral_service_sent_bytes_total") > 0);
    });

    it("opens TCP only for the exposed port: the daemon listens on no other TCP port for the service", () => {
      const daemon = (JSON.parse(readFileSync(join(p.dir, ".corral", "daemon.json"), "utf8")) as { pid: number }).pid;
      const inodes = new Set(
        readdirSync(`/proc/${daemon}/fd`).flatMap((fd) => {
          const match = /^socket:\[(\d+)\]$/.exec(safeReadlink(`/proc/${daemon}/fd/${fd}`));
          return match ? [match[1]!] : [];
        }),
      );
      const listening = ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((table) =>
        readFileSync(table, "utf8")
          .split("\n")
          .slice(1)
          .map((line) => line.trim().split(/\s+/))
          // state 0A is LISTEN; column 9 the inode
          .filter((cols) => cols[3] === "0A" && inodes.has(cols[9]!))
          .map((cols) => parseInt(cols[1]!.split(":")[1]!, 16)),
      );
      const exposed = Number(corral("port", "web", "http").split(":").pop());
      assert.deepEqual(listening, [exposed], "one TCP listener: the exposed port's service address");
      const admin = p.corral(["port", "web", "admin"]);
      assert.notEqual(admin.status, 0);
      assert.match(admin.stderr, /port admin of web has no TCP address \(give the port expose: true/);
      assert.ok(
        p.ps().every((row) => Object.keys(row.addresses).includes("admin")),
        "admin still has its Unix sockets",
      );
    });

    it("one process's own socket, during its restart, does fail requests (what the service address prevents)", async (t) => {
      const own = corral("port", "web", "http", "--unix", "--index", "0");
      const load = await unixLoad(own);
      corral("restart", "web");
      await p.waitForRows("3 online after the restart", allOnline(3));
      const loop = await load.stop();
      t.diagnostic(`own socket during restart: ${loop.ok} ok, ${loop.failed} failed ${JSON.stringify(loop.errors)}`);
      assert.ok(loop.failed > 0, `requests to the restarted process's own socket failed (ok ${loop.ok})`);
    });
  },
);
