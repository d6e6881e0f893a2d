// The rows of `corral ps` and GET /v1/processes.
import type { PendingService } from "./apply.js";
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
 * Every process's row; a service of the desired state that has no process
 * (waiting for a dependency, blocked by a failed job) gets one row saying so,
 * so it does not vanish from `ps`.
 */
export async function processRows(ns: DaemonNamespace, pending?: ReadonlyMap<string, PendingService>): Promise<ProcessRow[]> {
  const rows: ProcessRow[] = [];
  const statuses = ns.processStatuses();
  const running = new Set(statuses.filter((s) => s.processes.length > 0).map((s) => s.serviceId));
  for (const [service, why] of pending ?? []) {
    if (running.has(service)) continue;
    rows.push({
      service,
      process: 0,
      status: "offline",
      reason: why.reason,
      pid: null,
      restarts: 0,
      cpuNanoCores: null,
      memoryBytes: null,
      uptimeSeconds: null,
      addresses: {},
      tcpAddresses: {},
      nextStartAt: null,
      message: why.message,
    });
  }
  for (const { serviceId, processes } of statuses) {
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
  return rows.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : a.process - b.process));
}
