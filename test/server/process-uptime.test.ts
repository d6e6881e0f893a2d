// The UPTIME of `ps` rows: from the process's start time in /proc, which the
// daemon reads once per process and status, not at every request.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { processUptime } from "../../src/server/process-table.js";
import { clockTicksPerSecond, readProcStat, uptimeSeconds } from "../../src/process/proc.js";

describe("processUptime", () => {
  it("counts from the process's own start, also once the start time is remembered", async (t) => {
    const child = spawn("sleep", ["60"], { stdio: "ignore" });
    t.after(() => child.kill("SIGKILL"));
    await once(child, "spawn");
    const pid = child.pid!;
    const started = readProcStat(pid)!.startTime / clockTicksPerSecond();
    const status = new Date();

    const now = uptimeSeconds();
    assert.equal(processUptime(pid, status, now), Math.max(0, Math.round((now - started) * 10) / 10));
    // Remembered: a later boot uptime moves it by exactly as much.
    assert.equal(processUptime(pid, status, now + 100), Math.round((now + 100 - started) * 10) / 10);

    child.kill("SIGKILL");
    await once(child, "exit");
    // A new status of the pid is a new process to read: a gone one has no uptime.
    assert.equal(processUptime(pid, new Date(status.getTime() + 1), now), null);
  });

  it("has no uptime for a row without a pid", () => {
    assert.equal(processUptime(undefined, new Date(), uptimeSeconds()), null);
  });
});
