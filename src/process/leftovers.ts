// Processes recorded in PID files that no supervisor of ours owns: left by an
// earlier instance, or by a scale larger than the current one. They are
// stopped only after their identity checks out; anything else is a stranger
// that merely got a recycled PID, and is left alone.
import { rm } from "node:fs/promises";
import { survive } from "../util/diagnostics.js";
import { isAlive, readPidRecord, removeFile } from "./identity.js";
import type { Launcher } from "./launch/types.js";
import { type ServicePaths, pidFile, recordedIndices, removeSlotFiles, removeSockets } from "./run-dir.js";
import { type StopPolicy, stopProcess } from "./stop-process.js";

export interface LeftoverScope {
  launcher: Launcher;
  environmentId: string;
  paths: Pick<ServicePaths, "fullId" | "runDir">;
}

/**
 * Stops processes recorded in PID files that no slot owns (identity-checked),
 * then kills and removes their cgroups, of the recorded indices and of every
 * index below `knownScale`, that pass `filter`.
 */
export async function stopLeftovers(
  scope: LeftoverScope,
  policy: StopPolicy,
  knownScale: number,
  filter: (index: number) => boolean,
): Promise<void> {
  const { runDir, fullId } = scope.paths;
  const recorded = (await recordedIndices(runDir)).filter(filter);
  await Promise.all(
    recorded.map(async (index) => {
      const path = pidFile(runDir, index);
      const record = readPidRecord(path);
      if (record && isAlive(record)) await stopProcess({ identity: record }, policy);
      removeFile(path);
    }),
  );
  const indices = new Set([...recorded, ...Array.from({ length: knownScale }, (_, i) => i).filter(filter)]);
  await Promise.all(
    [...indices].map(async (processIndex) => {
      const detail = { fullId, processIndex };
      const group = await scope.launcher
        .reopen({ environmentId: scope.environmentId, fullId, processIndex })
        .catch(survive("process.leftovers", "reopen cgroup", detail));
      if (!group) return;
      await group.kill().catch(survive("process.leftovers", "kill cgroup", detail));
      await group.remove().catch(survive("process.leftovers", "remove cgroup", detail));
    }),
  );
}

/**
 * Everything a dropped service leaves: the processes its PID files name (and
 * their cgroups), its sockets (hashed ones live outside the run directory), its
 * logs and pipes, the run directory and the scratch directory.
 */
export async function removeService(
  scope: LeftoverScope & { paths: ServicePaths },
  policy: StopPolicy,
  known: { scale: number; ports: readonly string[]; scratchDir: string | undefined },
): Promise<void> {
  const { runDir } = scope.paths;
  await stopLeftovers(scope, policy, known.scale, () => true);
  await removeSockets(runDir, known.ports, known.scale);
  await removeSlotFiles(scope.paths, 0);
  await rm(runDir, { recursive: true, force: true });
  if (known.scratchDir) await rm(known.scratchDir, { recursive: true, force: true });
}
