// Failures the process backend survives are reported on the diagnostics channel
// (corral:survivable-error), not swallowed: a cgroup that will not go, a run
// directory whose manifest cannot be read.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Launcher, ProcessCgroup } from "../../src/process/launch/types.js";
import { stopLeftovers } from "../../src/process/leftovers.js";
import { readManifest } from "../../src/process/service-manifest.js";
import { type SurvivableError, survivableErrors } from "../../src/util/diagnostics.js";
import { withTempDir } from "../helpers.js";

/** Collects what is published while `fn` runs. */
async function reported(fn: () => Promise<void>): Promise<SurvivableError[]> {
  const seen: SurvivableError[] = [];
  const listener = (message: unknown) => seen.push(message as SurvivableError);
  survivableErrors.subscribe(listener);
  try {
    await fn();
  } finally {
    survivableErrors.unsubscribe(listener);
  }
  return seen;
}

/** A cgroup whose removal fails, as one holding a task stuck in D state does. */
function stuckGroup(name: string): ProcessCgroup {
  return {
    name,
    version: "v1",
    oomKillCount: async () => 0,
    memoryBytes: async () => null,
    cpuUsageNanos: async () => null,
    isPopulated: async () => true,
    pids: async () => [],
    kill: async () => {},
    remove: async () => {
      throw new Error(`cgroup ${name}: cannot remove, still populated`);
    },
  };
}

describe("survivable failures of the process backend", () => {
  it("a cgroup that cannot be removed is reported with the process it belonged to", async (t) => {
    await withTempDir(t, "corral-survivable-", async (runDir) => {
      const launcher: Launcher = {
        kind: "cgroup",
        prepare: () => Promise.reject(new Error("not used")),
        reopen: async (req) => stuckGroup(`corral/env/${req.fullId}-${req.processIndex}`),
      };
      const seen = await reported(() =>
        stopLeftovers(
          { launcher, environmentId: "env", paths: { fullId: "ns-s", runDir } },
          { signal: "SIGTERM", graceMs: 10 },
          2,
          () => true,
        ),
      );
      assert.deepEqual(seen.map((s) => [s.scope, s.operation, s.detail?.processIndex]).sort(), [
        ["process.leftovers", "remove cgroup", 0],
        ["process.leftovers", "remove cgroup", 1],
      ]);
      assert.match(String(seen[0]!.error), /cannot remove, still populated/);
    });
  });

  it("a manifest that cannot be read is reported, and the directory is treated as not ours", async (t) => {
    await withTempDir(t, "corral-survivable-", async (runDir) => {
      mkdirSync(join(runDir, "service.json")); // EISDIR on read
      let manifest: unknown;
      const seen = await reported(async () => {
        manifest = await readManifest(runDir);
      });
      assert.equal(manifest, null);
      assert.deepEqual(
        seen.map((s) => [s.scope, s.operation]),
        [["process.manifest", "read"]],
      );
    });
  });

  it("a missing manifest is the expected case: nothing is reported", async (t) => {
    await withTempDir(t, "corral-survivable-", async (runDir) => {
      const seen = await reported(async () => {
        assert.equal(await readManifest(runDir), null);
      });
      assert.deepEqual(seen, []);
    });
  });
});
