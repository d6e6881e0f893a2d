// The rows of `corral ps` and GET /v1/processes.
import type { DesiredState } from "../config/types.js";
import { runningScale } from "../config/translate.js";
import type { DaemonNamespace } from "./backend.js";
import type { ProcessRow } from "./process-row.js";
import { clockTicksPerSecond, readProcStat, uptimeSeconds } from "../process/proc.js";
import { reportSurvivable } from "../util/diagnostics.js";

export type { ProcessRow } from "./process-row.js";

/** How long a process has run, from its start time in /proc (right for adopted processes too). */
export function processUptime(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  const stat = readProcStat(pid);
  if (!stat) return null;
  return Math.max(0, Math.round((uptimeSeconds() - stat.startTime / clockTicksPerSecond()) * 10) / 10);
}

/**
 * One row per process. With the desired state, a stopped service (corral stop,
 * scale 0) keeps rows too, one per process it would run (at least one), offline
 * with reason "stopped": as `docker compose ps -a` lists stopped containers, it
 * does not vanish from `corral ps` and the dashboard.
 */
export async function processRows(ns: DaemonNamespace, state?: DesiredState | null): Promise<ProcessRow[]> {
  const rows: ProcessRow[] = [];
  for (const { serviceId, processes } of ns.processStatuses()) {
    // A row without CPU and memory beats no row: the failure goes to the daemon's log.
    const metrics = await ns.fetchServiceMetrics(serviceId).catch((error: unknown) => {
      reportSurvivable("server.processes", "read metrics", error, { service: serviceId });
      return [];
    });
    const addresses = ns.addressesOf(serviceId);
    for (const event of processes) {
      const m = metrics[event.processId];
      // An exit event keeps the PID that exited; only a live process shows one.
      const alive = event.status === "online" || event.reason === "starting" || event.reason === "probe-failed";
      const pid = alive ? event.pid : undefined;
      rows.push({
        service: serviceId,
        process: event.processId,
        status: event.status,
        reason: event.status === "online" ? null : (event.reason ?? null),
        pid: pid ?? null,
        restarts: event.restartCount,
        cpuNanoCores: m?.cpuNanoCores ?? null,
        memoryBytes: m?.memoryBytes ?? null,
        uptimeSeconds: processUptime(pid),
        addresses: addresses[event.processId]?.unix ?? {},
        tcpAddresses: addresses[event.processId]?.tcp ?? {},
        nextStartAt: event.nextStartAt?.toISOString() ?? null,
        message: event.message ?? null,
      });
    }
  }
  if (state) rows.push(...stoppedRows(state, rows));
  return rows;
}

function stoppedRows(state: DesiredState, rows: readonly ProcessRow[]): ProcessRow[] {
  const stopped: ProcessRow[] = [];
  for (const [service, spec] of Object.entries(state.services).sort(([a], [b]) => a.localeCompare(b))) {
    if (runningScale(spec) !== 0) continue;
    for (let process = 0; process < Math.max(spec.scale, 1); process++) {
      // A process still stopping shows as it is until it is gone.
      if (rows.some((r) => r.service === service && r.process === process)) continue;
      stopped.push({
        service,
        process,
        status: "offline",
        reason: "stopped",
        pid: null,
        restarts: 0,
        cpuNanoCores: null,
        memoryBytes: null,
        uptimeSeconds: null,
        addresses: {},
        tcpAddresses: {},
        nextStartAt: null,
        message: null,
      });
    }
  }
  return stopped;
}
