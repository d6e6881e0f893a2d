import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readProcStat } from "../../src/process/proc.js";
import { orchestratorPerSuite, until, untilAllOnline } from "../helpers.js";

describe("fetchServiceMetrics", () => {
  const suite = orchestratorPerSuite("metrics");
  const { env } = suite;

  it("reports CPU since the last call, resident memory and scratch disk use, one entry per process", async () => {
    const ns = suite.orchestrator.namespace("m");
    const events = ns.watchServices();
    await ns.ensureService("busy", { image: "busy", scale: 1, disk: true });
    await ns.ensureService("idle", { image: "sleeper", scale: 2 });
    const [busy] = await untilAllOnline(events, "busy", 1);
    await untilAllOnline(events, "idle", 2);
    await ns.fetchServiceMetrics("busy"); // starts the interval
    // Let the busy process accumulate a measurable amount of CPU (20 ticks), whatever the clock says.
    const startTicks = readProcStat(busy!.pid!)!.utime;
    await until(() => readProcStat(busy!.pid!)!.utime >= startTicks + 20, "the busy process to use CPU");
    writeFileSync(join(env.config.scratchDirectory, "m-busy", "data"), Buffer.alloc(1024 * 1024, 1));
    const [metrics] = await ns.fetchServiceMetrics("busy");
    assert.ok(metrics!.cpuNanoCores! > 100_000_000, `a busy loop uses well over 0.1 core, got ${metrics!.cpuNanoCores}`);
    assert.ok(metrics!.cpuNanoCores! <= 2_100_000_000, "a single thread cannot use more than the machine");
    assert.ok(metrics!.memoryBytes! > 100 * 1024, "resident memory is reported in bytes");
    assert.ok(metrics!.diskBytes! >= 1024 * 1024, `the scratch directory holds the 1 MiB written, got ${metrics!.diskBytes}`);

    const idle = await ns.fetchServiceMetrics("idle");
    assert.equal(idle.length, 2);
    for (const m of idle) {
      assert.ok(m.cpuNanoCores! < 100_000_000, `sleep uses next to no CPU, got ${m.cpuNanoCores}`);
      assert.ok(m.memoryBytes! > 0);
      assert.equal(m.diskBytes, null, "no scratch directory, no disk figure");
    }
    await events.return!();
  });

  it("reports null for a process that is not running", async () => {
    const ns = suite.orchestrator.namespace("gone");
    await ns.ensureService("broken", { image: "broken-interpreter", scale: 1 });
    const [metrics] = await ns.fetchServiceMetrics("broken");
    assert.deepEqual(metrics, { cpuNanoCores: null, memoryBytes: null, diskBytes: null });
  });
});
