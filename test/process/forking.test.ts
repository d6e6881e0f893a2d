// Forking servers on real processes: a shell that backgrounds a sleeper and
// exits, and redis-server --daemonize yes with its PID file. corral supervises
// what they leave behind, kills it on drop, and a later instance adopts it
// after the orchestrator was killed with SIGKILL.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { execFileSync } from "node:child_process";
import type { ServiceConfig } from "../../src/contract/types.js";
import type { HostServiceSpec } from "../fixtures/host.js";
import { FIXTURES, isPidAlive, nextEvent, testEnvironment, until, untilAllOnline, type TestEnvironment } from "../helpers.js";
import { readProcStat } from "../../src/process/proc.js";

const backgrounder: ServiceConfig = { image: "/bin/sh", scale: 1, args: () => ["-c", "sleep 1000 & exit 0"], forking: true };

function redis(root: string, index = ""): ServiceConfig & { pidFile: string } {
  const pidFile = join(root, `redis${index}.pid`);
  return {
    image: "/usr/bin/redis-server",
    scale: 1,
    ports: [{ name: "redis" }],
    args: (a) => ["--daemonize", "yes", "--pidfile", pidFile, "--port", "0", "--unixsocket", a.listenAddrs.redis!, "--save", ""],
    pidFile,
    readiness: { socket: "redis", periodMs: 50 },
  };
}

function redisPing(socket: string): string {
  return execFileSync("redis-cli", ["-s", socket, "ping"], { encoding: "utf8" }).trim();
}

describe("forking servers", () => {
  const envs: TestEnvironment[] = [];
  const hosts: ChildProcess[] = [];
  after(async () => {
    for (const host of hosts) if (host.exitCode === null && host.signalCode === null) host.kill("SIGKILL");
    await Promise.all(envs.map((e) => e.cleanup()));
  });
  const environment = (name: string) => {
    const env = testEnvironment(name);
    envs.push(env);
    return env;
  };

  for (const launcher of ["auto", "direct"] as const) {
    it(`supervises what "sh -c 'sleep 1000 & exit 0'" leaves behind, and kills it on drop (launcher ${launcher})`, async () => {
      const env = environment(`fork-${launcher}`);
      const orchestrator = await env.create({ launcher });
      const ns = orchestrator.namespace("default");
      const events = ns.watchServices();
      await ns.ensureService("bg", backgrounder);
      const [online] = await untilAllOnline(events, "bg", 1);
      // The shell's fork becomes sleep when it gets to its exec (same PID, same start time: the same identity).
      await until(
        () => readProcStat(online!.pid!)?.comm === "sleep",
        "the server left behind to be the process, not the shell that exited",
      );
      // A crash of the server is a crash of the process: relaunched.
      process.kill(online!.pid!, "SIGKILL");
      const relaunched = await nextEvent(events, (e) => e.status === "online" && e.pid !== online!.pid);
      await until(() => readProcStat(relaunched.pid!)?.comm === "sleep", "the relaunched sleeper");
      assert.ok(relaunched.restartCount >= 1);
      await ns.dropService("bg");
      await until(() => !isPidAlive(relaunched.pid!), "the server to be killed on drop");
      assert.deepEqual(env.processes(), []);
      await events.return!();
    });
  }

  it("supervises redis-server --daemonize yes through its PID file: ready, answering, killed on drop", async () => {
    const env = environment("redis");
    const orchestrator = await env.create();
    const ns = orchestrator.namespace("default");
    const events = ns.watchServices();
    const config = redis(env.root);
    const service = await ns.ensureService("cache", config);
    const [online] = await untilAllOnline(events, "cache", 1);
    assert.equal(readProcStat(online!.pid!)?.comm, "redis-server");
    assert.equal(String(online!.pid), execFileSync("cat", [config.pidFile], { encoding: "utf8" }).trim(), "the PID the file names");
    assert.equal(redisPing(service.addresses("redis")[0]!), "PONG");
    await ns.dropService("cache");
    await until(() => !isPidAlive(online!.pid!), "redis to be stopped on drop");
    await events.return!();
  });

  it("a PID file naming a process corral did not start is not taken", async () => {
    const env = environment("stale-pid");
    const orchestrator = await env.create();
    const ns = orchestrator.namespace("default");
    const events = ns.watchServices();
    const pidFile = join(env.root, "stale.pid");
    // The program writes our own (older) PID into the file and exits: a stranger to the service.
    await ns.ensureService("s", {
      image: "/bin/sh",
      scale: 1,
      restartPolicy: "never",
      args: () => ["-c", `echo ${process.pid} > ${pidFile}; exit 0`],
      pidFile,
    });
    const ended = await nextEvent(events, (e) => e.final === true, { boundMs: 60_000 });
    assert.match(ended.message ?? "", /which corral did not start/);
    assert.ok(isPidAlive(process.pid));
    await ns.dropService("s");
    await events.return!();
  });

  it("a later instance adopts the forking servers of an orchestrator killed with SIGKILL", async () => {
    const env = environment("fork-kill9");
    const r = redis(env.root);
    const services: HostServiceSpec[] = [
      { namespace: "default", id: "bg", image: "/bin/sh", scale: 1, args: ["-c", "sleep 1000 & exit 0"], forking: true },
      {
        namespace: "default",
        id: "cache",
        image: "/usr/bin/redis-server",
        scale: 1,
        ports: ["redis"],
        args: ["--daemonize", "yes", "--pidfile", r.pidFile, "--port", "0", "--unixsocket", "{port:redis}", "--save", ""],
        pidFile: r.pidFile,
        readinessSocket: "redis",
      },
    ];
    const host = spawn(
      process.execPath,
      ["--import", "tsx", join(FIXTURES, "host.ts"), JSON.stringify({ orchestrator: env.config, services })],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    hosts.push(host);
    let out = "";
    host.stdout.on("data", (d: Buffer) => (out += d.toString()));
    host.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const ready = await until(
      () => out.split("\n").find((l) => l.startsWith('{"ready"')) ?? (host.exitCode !== null ? "exited" : null),
      "the host to be ready",
      60_000,
    );
    assert.notEqual(ready, "exited", out);
    const pids = (JSON.parse(ready) as { pids: Record<string, number[]> }).pids;
    const [sleeper] = pids["default/bg"]!;
    const [server] = pids["default/cache"]!;
    await until(() => readProcStat(sleeper!)?.comm === "sleep", "the sleeper");
    assert.equal(readProcStat(server!)?.comm, "redis-server");
    host.kill("SIGKILL");
    await once(host, "exit");
    assert.ok(isPidAlive(sleeper!) && isPidAlive(server!), "the servers outlive their orchestrator");

    const orchestrator = await env.create();
    const ns = orchestrator.namespace("default");
    const events = ns.watchServices();
    await ns.ensureService("bg", backgrounder);
    const cache = await ns.ensureService("cache", r);
    const onlineBg = await untilAllOnline(events, "bg", 1);
    assert.equal(onlineBg[0]!.pid, sleeper, "the same sleeper, adopted");
    const onlineCache = await untilAllOnline(events, "cache", 1);
    assert.equal(onlineCache[0]!.pid, server, "the same redis, adopted");
    assert.equal(redisPing(cache.addresses("redis")[0]!), "PONG");
    // (redis-server overwrites its environment with its process title, so only the sleeper is found by it.)
    assert.deepEqual(
      env.processes().filter((pid) => pid !== server),
      [sleeper],
      "nothing relaunched, nothing duplicated",
    );
    await ns.dropService("bg");
    await ns.dropService("cache");
    await until(() => !isPidAlive(sleeper!) && !isPidAlive(server!), "both servers to be killed on drop");
    await events.return!();
  });
});
