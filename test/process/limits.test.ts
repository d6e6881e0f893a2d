import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { after, describe, it } from "node:test";
import { MemoryLimit, type ProcessOrchestrator } from "../../src/index.js";
import { selectLauncher } from "../../src/process/launch/select.js";
import { readProcStat } from "../../src/process/proc.js";
import { nextEvent, testEnvironment, until, untilAllOnline, type TestEnvironment } from "../helpers.js";

const cgroupsUsable = await selectLauncher("cgroup").then(
  () => true,
  () => false,
);
const skip = cgroupsUsable ? false : "cgroups are not writable here (needs root)";

function groupDirs(env: TestEnvironment, orchestrator: ProcessOrchestrator): string[] {
  const found: string[] = [];
  assert.ok(orchestrator.config.hostScope.startsWith(`${env.environmentId}-`));
  for (const hierarchy of readdirSync("/sys/fs/cgroup")) {
    const dir = `/sys/fs/cgroup/${hierarchy}/corral/${orchestrator.config.hostScope}`;
    if (existsSync(dir))
      found.push(
        ...readdirSync(dir, { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => `${dir}/${d.name}`),
      );
  }
  return found;
}

describe("limits enforced by the cgroup launcher", { skip }, () => {
  const env = testEnvironment("limits");
  after(() => env.cleanup());

  it("a process over its memory limit is killed, reported oom-killed, and relaunched", async () => {
    const orchestrator = await env.create({ launcher: "cgroup" });
    const ns = orchestrator.namespace("mem");
    const events = ns.watchServices();
    await ns.ensureService("hog", {
      image: "memory-hog.mjs",
      scale: 1,
      memoryLimit: MemoryLimit.parse("96MiB"),
      restartBackoff: { initialMs: 10, jitter: 0 },
    });
    const killed = await nextEvent(events, (e) => e.status === "offline" && e.reason !== "starting");
    assert.equal(killed.reason, "oom-killed");
    assert.equal(killed.signal, "SIGKILL");
    const again = await nextEvent(events, (e) => e.status === "online");
    assert.equal(again.restartCount, 1);
    await ns.dropService("hog");
    await events.return!();
  });

  it("a busy process under cpuLimit 0.5 uses about half a core", async () => {
    const orchestrator = await env.create({ launcher: "cgroup" });
    const ns = orchestrator.namespace("cpu");
    const events = ns.watchServices();
    await ns.ensureService("busy", { image: "busy", scale: 1, cpuLimit: "500m" as never });
    const [online] = await untilAllOnline(events, "busy", 1);
    await ns.fetchServiceMetrics("busy"); // opens the interval
    const start = readProcStat(online!.pid!)!;
    // 150 ticks of CPU take 3 s at half a core: long enough for the quota to show.
    await until(() => {
      const now = readProcStat(online!.pid!)!;
      return now.utime + now.stime - start.utime - start.stime >= 150;
    }, "the busy process to use 1.5 s of CPU");
    const [metrics] = await ns.fetchServiceMetrics("busy");
    assert.ok(metrics!.cpuNanoCores! <= 600_000_000, `at most about half a core, measured ${metrics!.cpuNanoCores}`);
    assert.ok(metrics!.cpuNanoCores! >= 350_000_000, `and it does get about half a core, measured ${metrics!.cpuNanoCores}`);
    assert.ok(groupDirs(env, orchestrator).length > 0);
    await ns.dropService("busy");
    assert.deepEqual(groupDirs(env, orchestrator), [], "a dropped service leaves no cgroup behind");
    await events.return!();
  });

  it("stopping kills everything in the group, even a grandchild that left the process group", async () => {
    const orchestrator = await env.create({ launcher: "cgroup" });
    const ns = orchestrator.namespace("escape");
    const events = ns.watchServices();
    // setsid puts the grandchild in its own session: only the cgroup still knows it belongs here.
    await ns.ensureService("e", {
      image: "/usr/bin/setsid",
      scale: 1,
      args: () => ["-f", "sleep", "100000"] as string[],
      restartPolicy: "never",
    });
    await nextEvent(events, (e) => e.status === "offline" && e.reason === "completed");
    // The leader exited at once; its escaped grandchild was killed with the group.
    assert.deepEqual(env.processes(), []);
    await ns.dropService("e");
    await events.return!();
  });
});

describe("limits under the direct launcher", () => {
  const env = testEnvironment("direct");
  after(() => env.cleanup());

  it("warns once per service that the limits are not enforced", async () => {
    const orchestrator = await env.create({ launcher: "direct" });
    const ns = orchestrator.namespace("d");
    const events = ns.watchServices();
    await ns.ensureService("s", { image: "sleeper", scale: 3, memoryLimit: MemoryLimit.parse("64MiB") });
    const warnings: string[] = [];
    await untilAllOnline(
      {
        next: async () => {
          const r = await events.next();
          if (!r.done && r.value.warning) warnings.push(r.value.warning);
          return r;
        },
      },
      "s",
      3,
    );
    assert.equal(warnings.length, 1, `one warning, got ${JSON.stringify(warnings)}`);
    assert.match(warnings[0]!, /limit/i);
    await events.return!();
  });
});
