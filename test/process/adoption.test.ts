import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { once } from "node:events";
import type { HostServiceSpec } from "../fixtures/host.js";
import { FIXTURES, isPidAlive, nextEvent, testEnvironment, until, untilAllOnline, type TestEnvironment } from "../helpers.js";
import { readProcStat } from "../../src/process/proc.js";

interface Host {
  child: ChildProcess;
  pids: Record<string, number[]>;
  output: () => string;
}

/** Starts an orchestrator in a separate host process and waits until it reports every process online. */
async function startHost(env: TestEnvironment, services: HostServiceSpec[], overrides: Record<string, unknown> = {}): Promise<Host> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(FIXTURES, "host.ts"), JSON.stringify({ orchestrator: { ...env.config, ...overrides }, services })],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const ready = await until(
    () => out.split("\n").find((l) => l.startsWith('{"ready"')) ?? (child.exitCode !== null ? "exited" : null),
    "the host to be ready",
    60_000,
  );
  if (ready === "exited") throw new Error(`host exited early: ${err}`);
  return { child, pids: (JSON.parse(ready) as { pids: Record<string, number[]> }).pids, output: () => out + err };
}

const sleepers: HostServiceSpec = { namespace: "default", id: "s", image: "sleeper", scale: 3 };

describe("adoption across orchestrator instances", () => {
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

  it("adopts the processes of a host killed with SIGKILL: nothing restarted, nothing duplicated, then supervises them", async () => {
    const env = environment("kill9");
    const host = await startHost(env, [sleepers]);
    hosts.push(host.child);
    const pids = host.pids["default/s"]!;
    assert.equal(pids.length, 3);
    host.child.kill("SIGKILL");
    await once(host.child, "exit");
    assert.ok(pids.every(isPidAlive), "children outlive their orchestrator");

    const orchestrator = await env.create();
    const ns = orchestrator.namespace("default");
    assert.deepEqual(await ns.listServices(), ["s"], "leftovers of the dead instance are listed");
    const events = ns.watchServices();
    await ns.ensureService("s", { image: "sleeper", scale: 3 });
    const online = await untilAllOnline(events, "s", 3);
    assert.deepEqual(
      online.map((e) => e.pid),
      pids,
      "the same processes, adopted",
    );
    assert.deepEqual(env.processes().sort(), [...pids].sort(), "no second copy of any process");

    // An adopted process is watched: when it dies it is relaunched.
    process.kill(pids[1]!, "SIGKILL");
    const offline = await nextEvent(events, (e) => e.status === "offline");
    assert.equal(offline.processId, 1);
    const relaunched = await nextEvent(events, (e) => e.status === "online");
    assert.equal(relaunched.processId, 1);
    assert.notEqual(relaunched.pid, pids[1]);
    assert.equal(relaunched.restartCount, 1);

    await ns.dropService("s");
    assert.deepEqual(env.processes(), [], "no orphans after drop");
    await events.return!();
  });

  it("drops a leftover service it never ensured, stopping the recorded processes", async () => {
    const env = environment("leftover");
    const host = await startHost(env, [sleepers, { namespace: "other", id: "t", image: "sleeper", scale: 1 }]);
    hosts.push(host.child);
    host.child.kill("SIGKILL");
    await once(host.child, "exit");
    const orchestrator = await env.create();
    await orchestrator.namespace("default").dropService("s");
    for (const pid of host.pids["default/s"]!) assert.equal(isPidAlive(pid), false);
    assert.ok(isPidAlive(host.pids["other/t"]![0]!), "other namespaces are untouched");
    assert.deepEqual(await orchestrator.namespace("default").listServices(), []);
    assert.deepEqual(await orchestrator.namespace("other").listServices(), ["t"]);
    await orchestrator.namespace("other").dropService("t");
    assert.deepEqual(env.processes(), []);
  });

  it("close({ leaveRunning: true }) leaves processes for the next instance; close() stops them", async () => {
    const env = environment("leave");
    const host = await startHost(env, [sleepers]);
    hosts.push(host.child);
    host.child.kill("SIGUSR2");
    const [code] = await once(host.child, "exit");
    assert.equal(code, 0);
    const pids = host.pids["default/s"]!;
    assert.ok(pids.every(isPidAlive));
    const orchestrator = await env.create();
    const ns = orchestrator.namespace("default");
    const events = ns.watchServices();
    await ns.ensureService("s", { image: "sleeper", scale: 3 });
    assert.deepEqual(
      (await untilAllOnline(events, "s", 3)).map((e) => e.pid),
      pids,
    );
    await events.return!();
    await orchestrator.close();
    assert.deepEqual(env.processes(), []);
    assert.deepEqual(
      readdirSync(join(env.config.stateDir!, "default-s")).filter((f) => f.endsWith(".pid")),
      [],
    );
  });

  it("adopts at a smaller scale by stopping the recorded processes above it, and rolls adopted processes whose config changed", async () => {
    const env = environment("shrink");
    const host = await startHost(env, [sleepers]);
    hosts.push(host.child);
    host.child.kill("SIGKILL");
    await once(host.child, "exit");
    const pids = host.pids["default/s"]!;
    const orchestrator = await env.create();
    const ns = orchestrator.namespace("default");
    await ns.ensureService("s", { image: "sleeper", scale: 2, env: { CHANGED: "yes" } });
    // ensureService resolves after the roll: a snapshot taken now shows the replaced processes.
    const events = ns.watchServices();
    const online = await untilAllOnline(events, "s", 2);
    assert.equal(isPidAlive(pids[2]!), false, "process 2 is beyond the new scale");
    for (const [i, event] of online.entries()) assert.notEqual(event.pid, pids[i], `process ${i} runs the new config`);
    assert.equal(env.processes().length, 2);
    await events.return!();
  });

  it("never adopts nor kills a stranger named by a PID file", async () => {
    const env = environment("stranger");
    const stranger = spawn("sleep", ["100000"], { stdio: "ignore" });
    try {
      const stat = readProcStat(stranger.pid!)!;
      const runDir = join(env.config.stateDir!, "default-s");
      mkdirSync(runDir, { recursive: true });
      const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
      // Same PID, another start time: a recycled PID.
      writeFileSync(
        join(runDir, "0.pid"),
        JSON.stringify({ pid: stranger.pid, startTime: stat.startTime + 1, bootId, specHash: "x", restartCount: 0, launchedAt: "" }),
      );
      // Same PID and start time, but recorded during another boot.
      writeFileSync(
        join(runDir, "1.pid"),
        JSON.stringify({
          pid: stranger.pid,
          startTime: stat.startTime,
          bootId: "another-boot",
          specHash: "x",
          restartCount: 0,
          launchedAt: "",
        }),
      );
      writeFileSync(join(runDir, "2.pid"), "not json at all");
      const orchestrator = await env.create();
      const ns = orchestrator.namespace("default");
      const events = ns.watchServices();
      await ns.ensureService("s", { image: "sleeper", scale: 3 });
      const online = await untilAllOnline(events, "s", 3);
      assert.ok(
        online.every((e) => e.pid !== stranger.pid),
        "a new process was launched instead of adopting the stranger",
      );
      await ns.dropService("s");
      assert.ok(isPidAlive(stranger.pid!), "the stranger survives ensure and drop");
      // A leftover directory whose only PID file names the stranger: drop leaves it alone too.
      mkdirSync(runDir, { recursive: true });
      writeFileSync(
        join(runDir, "0.pid"),
        JSON.stringify({ pid: stranger.pid, startTime: stat.startTime + 7, bootId, specHash: "x", restartCount: 0, launchedAt: "" }),
      );
      await ns.dropService("s");
      assert.ok(isPidAlive(stranger.pid!));
      await events.return!();
    } finally {
      stranger.kill("SIGKILL");
    }
  });

  it("propagateCrashes: a child dying of SIGSEGV stops the other children and the host exits non-zero", async () => {
    const env = environment("crash");
    const host = await startHost(
      env,
      [
        { namespace: "default", id: "victim", image: "sleeper", scale: 1 },
        { namespace: "default", id: "bystander", image: "sleeper", scale: 2 },
      ],
      {
        propagateCrashes: true,
      },
    );
    hosts.push(host.child);
    const exit = once(host.child, "exit");
    process.kill(host.pids["default/victim"]![0]!, "SIGSEGV");
    const [code] = await exit;
    assert.notEqual(code, 0);
    assert.match(host.output(), /default-victim-0 crashed \(SIGSEGV\)/);
    for (const pid of host.pids["default/bystander"]!) assert.equal(isPidAlive(pid), false, "the other children were stopped first");
    assert.deepEqual(env.processes(), []);
  });

  it("echoes each output line with its <namespace>-<id>-<i> prefix unless suppressOutput is set", async () => {
    const env = environment("echo");
    const host = await startHost(env, [{ namespace: "ns", id: "p", image: "printer", scale: 2, args: ["hello-{index}"] }], {
      suppressOutput: false,
    });
    hosts.push(host.child);
    await until(
      () => /ns-p-1 \| err-line hello-1/.test(host.output()) && /ns-p-0 \| out-line hello-0/.test(host.output()),
      "prefixed lines from both processes",
    );
    const exit = once(host.child, "exit");
    host.child.kill("SIGTERM");
    assert.deepEqual((await exit)[0], 0);
    assert.deepEqual(env.processes(), [], "close() on SIGTERM stopped every child");
  });
});
