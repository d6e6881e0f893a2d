// `corral down` when no daemon runs (it was SIGKILLed, or SIGTERMed, which
// leaves the services running on purpose, or it died while stopping them):
// the processes the state directory records are stopped from it directly,
// with the identity checks of adoption (a recycled PID is never signalled),
// dependents first as far as the desired state still says, then every
// leftover it no longer names. Nothing is started: a job that finished, or a
// process that died with the machine, stays gone.
import { rm } from "node:fs/promises";
import { dirname } from "node:path";
import { CONFIG_DEFAULTS } from "../contract/defaults.js";
import { stopOrder } from "../config/dependencies.js";
import { environmentFromDirectory } from "../config/environment-name.js";
import type { DesiredState } from "../config/types.js";
import { recordedServices } from "../process/service-manifest.js";
import { survive } from "../util/diagnostics.js";
import { createBackend } from "./backend.js";
import { claimPidFile } from "./daemon-files.js";
import { DesiredStateStore } from "./desired-store.js";
import { type StatePaths, removeApiSocket } from "./state-dir.js";

/**
 * Stops every service the state directory records; returns them, none when
 * nothing was left. Services on a cluster are
 * not this machine's to stop: then `{ cluster }` names the environment whose
 * daemon must do it (it re-applies nothing a cluster would not keep anyway).
 */
export async function stopWithoutDaemon(
  paths: StatePaths,
  alreadyRunning: (pid: number) => Error,
): Promise<{ stopped: RecordedService[] } | { cluster: string }> {
  const desired = await new DesiredStateStore(paths.desired).load().catch((error: unknown) => {
    // An unreadable state file must not keep what runs from being stopped: without it, only the order is lost.
    survive("server.down", "read the desired state", { path: paths.desired })(error);
    return null;
  });
  if (desired?.backend === "kubernetes" && Object.keys(desired.services).length > 0) return { cluster: desired.environment };
  const recorded = await recordedServices(paths.run);
  if (recorded.length > 0) {
    // Claimed as a daemon would: no daemon starts (and re-applies the state) while these are being stopped.
    await claimPidFile(paths, alreadyRunning);
    try {
      await stopRecorded(paths, desired, recorded);
    } finally {
      await rm(paths.pidFile, { force: true });
    }
  }
  await rm(paths.desired, { force: true });
  // A daemon that died leaves its socket file behind.
  await removeApiSocket(paths);
  return { stopped: recorded };
}

export interface RecordedService {
  namespace: string;
  id: string;
}

async function stopRecorded(paths: StatePaths, desired: DesiredState | null, recorded: RecordedService[]): Promise<void> {
  const environment = desired?.environment ?? environmentFromDirectory(dirname(paths.root));
  const backend = await createBackend(CONFIG_DEFAULTS.backend, environment, paths, desired, {});
  try {
    const left = new Map(recorded.map((r) => [`${r.namespace}/${r.id}`, r]));
    const drop = async ({ namespace, id }: RecordedService) => {
      left.delete(`${namespace}/${id}`);
      await backend.namespace(namespace).dropService(id);
    };
    if (desired) {
      for (const layer of stopOrder(desired)) {
        const inLayer = layer.flatMap((id) => left.get(`${desired.namespace}/${id}`) ?? []);
        await Promise.all(inLayer.map(drop));
      }
    }
    await Promise.all([...left.values()].map(drop));
  } finally {
    await backend.close({ leaveRunning: false });
  }
}
