// The machine refusing something (a PID file that cannot be written, no file
// descriptors left) fails one launch, never the host: the launch is reported
// spawn-failed and retried with back-off, and no process runs that no record
// names. A launch whose host died between spawn and record leaves an intent
// the next instance acts on. Real processes; /proc is the judge.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import type { ServiceEvent } from "../../src/contract/types.js";
import { writeLaunchIntent } from "../../src/process/launch-intent.js";
import { pidFile } from "../../src/process/run-dir.js";
import { IMAGES, isPidAlive, nextEvent, testEnvironment, until } from "../helpers.js";

describe("a launch the machine refuses fails alone", () => {
  it("a PID file that cannot be written: nothing is launched, spawn-failed, and the retry succeeds once it can", async (t) => {
    const env = testEnvironment("pid-write");
    t.after(() => env.cleanup());
    const orchestrator = await env.create({ launcher: "direct" });
    const runDir = join(env.config.stateDir!, "w-s");
    // A non-empty directory where the PID file goes: the launch intent, written into it before the spawn, fails.
    mkdirSync(join(runDir, "0.pid", "blocker"), { recursive: true });
    const ns = orchestrator.namespace("w");
    const events = ns.watchServices();
    const seen: ServiceEvent[] = [];
    await ns.ensureService("s", { image: "sleeper", scale: 1 }).catch(() => {});
    const failed = await nextEvent(events, (e) => e.reason === "spawn-failed", { seen });
    assert.match(failed.message ?? "", /PID file could not be written, nothing was launched: EISDIR/);
    assert.deepEqual(env.processes(), [], "no process runs that no record names");
    rmSync(join(runDir, "0.pid"), { recursive: true });
    const online = await nextEvent(events, (e) => e.status === "online", { seen });
    assert.deepEqual(env.processes(), [online.pid]);
    assert.ok(
      seen.some((e) => e.reason === "backoff"),
      "the retry came after a back-off",
    );
    await events.return!();
  });

  it("a host that died between spawn and PID record: the next one finds the process by its intent and stops it", async (t) => {
    const env = testEnvironment("intent");
    t.after(() => env.cleanup());
    const runDir = join(env.config.stateDir!, "i-s");
    mkdirSync(runDir, { recursive: true });
    // What such a host leaves: the intent in the slot's PID file, and a process no PID record names.
    writeLaunchIntent(pidFile(runDir, 0));
    const orphan = spawn(join(IMAGES, "sleeper"), [], {
      detached: true,
      stdio: "ignore",
      env: {
        ...process.env,
        CORRAL_ENVIRONMENT_ID: env.environmentId,
        CORRAL_NAMESPACE: "i",
        CORRAL_SERVICE_ID: "s",
        CORRAL_PROCESS_INDEX: "0",
      },
    });
    orphan.unref();
    const orphanPid = orphan.pid!;
    await until(() => env.processes().includes(orphanPid), "the orphan to run");
    const orchestrator = await env.create({ launcher: "direct" });
    const ns = orchestrator.namespace("i");
    const events = ns.watchServices();
    await ns.ensureService("s", { image: "sleeper", scale: 1 });
    const online = await nextEvent(events, (e) => e.status === "online");
    await until(() => !isPidAlive(orphanPid), "the orphan to be stopped");
    assert.deepEqual(env.processes(), [online.pid], "the slot runs exactly once");
    // The PID record took the intent's place, and no file of its own is left for an intent.
    assert.equal(JSON.parse(readFileSync(pidFile(runDir, 0), "utf8")).pid, online.pid, "the PID file names the new process");
    assert.deepEqual(
      readdirSync(runDir)
        .filter((name) => name.startsWith("0."))
        .sort(),
      ["0.pid", "0.stderr", "0.stdout"],
      "the slot's files: its record and its two pipes",
    );
    await events.return!();
  });

  it("no file descriptors left (EMFILE): the change fails with EMFILE, the host lives, and every process starts once there are", async (t) => {
    const env = testEnvironment("emfile");
    t.after(() => env.cleanup());
    const orchestrator = await env.create({ launcher: "direct" });
    const ns = orchestrator.namespace("e");
    const events = ns.watchServices();
    const seen: ServiceEvent[] = [];
    await ns.ensureService("one", { image: "sleeper", scale: 1 });
    await nextEvent(events, (e) => e.serviceId === "one" && e.status === "online", { seen });
    // This process's own limit, lowered to what it holds now: the next open fails with EMFILE. A shell
    // started beforehand sets it (this process could not spawn prlimit once it is out of descriptors).
    const limits = spawnSync("prlimit", ["--pid", String(process.pid), "--nofile", "--raw", "--noheadings", "--output=SOFT,HARD"], {
      encoding: "utf8",
    }).stdout.trim();
    const [soft, hard] = limits.split(/\s+/);
    // The shell answers each change on its stdout pipe: checking /proc/<pid>/limits would itself need the
    // descriptor the lowered limit no longer gives.
    const setter = spawn("sh", [], { stdio: ["pipe", "pipe", "inherit"] });
    const answers = createInterface({ input: setter.stdout })[Symbol.asyncIterator]();
    const setLimit = async (limit: string): Promise<void> => {
      setter.stdin.write(`prlimit --pid ${process.pid} --nofile=${limit}:${hard} && echo set || echo failed\n`);
      const answer = await answers.next();
      assert.equal(answer.value, "set", `prlimit --nofile=${limit}`);
    };
    t.after(() => {
      setter.stdin.end(`prlimit --pid ${process.pid} --nofile=${soft}:${hard}\n`);
    });
    const held = readdirSync("/proc/self/fd").length;
    await setLimit(String(held));
    try {
      const refused = await ns.ensureService("many", { image: "sleeper", scale: 4 }).then(
        () => undefined,
        (error: unknown) => error,
      );
      assert.ok(refused instanceof Error && "code" in refused && refused.code === "EMFILE", String(refused));
    } finally {
      await setLimit(String(soft));
    }
    assert.match(readFileSync(`/proc/${process.pid}/limits`, "utf8"), new RegExp(`Max open files\\s+${soft}\\s`));
    await ns.ensureService("many", { image: "sleeper", scale: 4 });
    const online = new Set<number>();
    while (online.size < 4) {
      const event = await nextEvent(events, (e) => e.serviceId === "many" && e.status === "online", { seen });
      online.add(event.processId);
    }
    assert.equal(env.processes().length, 5, "every process runs once");
    await events.return!();
  });
});
