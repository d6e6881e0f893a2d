// A full disk is the failure of the writes it refuses, not of the daemon: log
// lines are dropped and counted (in /healthz), the daemon starts again while
// the disk is still full, and capture resumes (with a marker of what was lost)
// once there is room. A real tmpfs of 1 MiB, mounted for the test (root).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DaemonClient } from "../../src/cli/client.js";
import type { ServiceSpec } from "../../src/config/types.js";
import { Daemon } from "../../src/server/daemon.js";
import { droppedLogLines } from "../../src/process/logs.js";
import { healthBody } from "../../src/server/wire.js";
import { IMAGES, killEnvironment, until } from "../helpers.js";

/** Fills the file system at `dir` to the last byte: writes until ENOSPC. */
function fill(path: string): void {
  const fd = openSync(path, "w");
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "ENOSPC")) throw error;
  } finally {
    closeSync(fd);
  }
  // The last partial block: byte by byte until nothing fits.
  const small = openSync(`${path}.tail`, "w");
  try {
    for (;;) writeSync(small, Buffer.alloc(512, 1));
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "ENOSPC")) throw error;
  } finally {
    closeSync(small);
  }
}

describe("a full disk", () => {
  it("keeps the daemon up: log lines are dropped and counted, it starts again while full, capture resumes with room", async (t) => {
    const mount = realpathSync(mkdtempSync(join(tmpdir(), "corral-full-disk-")));
    const environment = `full-disk-${process.pid}`;
    assert.equal(spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount]).status, 0, "mount a tmpfs (needs root)");
    let daemon: Daemon | undefined;
    t.after(async () => {
      await daemon?.shutdown({ stopServices: true }).catch(() => {});
      killEnvironment(environment);
      spawnSync("umount", ["-l", mount]);
      rmSync(mount, { recursive: true, force: true });
    });
    const stateDir = join(mount, "state");
    daemon = await Daemon.start({ stateDir, environment, log: () => {} });
    const client = new DaemonClient({ socketPath: join(stateDir, "corral.sock") });
    const ticker: ServiceSpec = { command: join(IMAGES, "ticker"), args: [], ports: [], scale: 1, env: {}, labels: {}, dependsOn: {} };
    await client.post("/v1/apply", { environment, namespace: "default", services: { t: ticker } });
    const logFile = join(stateDir, "run", "logs", "default-t-0.log");
    await until(() => existsSync(logFile) && readFileSync(logFile, "utf8").includes("tick"), "lines in the log");

    const filler = join(mount, "filler");
    fill(filler);
    const running = daemon;
    await until(() => running.problems.some((p) => /log lines were dropped \(ENOSPC\)/.test(p)), "dropped lines to be counted");
    const health = await client.get("/healthz", healthBody);
    assert.ok(
      health.problems.some((p) => /^\d+ log lines were dropped \(ENOSPC\)/.test(p)),
      JSON.stringify(health),
    );

    // Restarted while the disk is still full: it starts, serves and adopts.
    await daemon.shutdown();
    daemon = undefined;
    daemon = await Daemon.start({ stateDir, environment, log: () => {} });
    assert.equal((await client.get("/healthz", healthBody)).environment, environment);
    assert.deepEqual(Object.keys(daemon.state?.services ?? {}), ["t"]);
    // The marker counts what this daemon dropped, and an append can still fit in the last page the
    // file has: room comes back only once this daemon has dropped lines too.
    const droppedBefore = droppedLogLines().lines;
    await until(() => droppedLogLines().lines > droppedBefore, "the new daemon to drop lines too");

    rmSync(filler);
    rmSync(`${filler}.tail`);
    await until(() => /\[corral: \d+ log lines dropped: ENOSPC\]/.test(readFileSync(logFile, "utf8")), "capture to resume with a marker");
  });
});
