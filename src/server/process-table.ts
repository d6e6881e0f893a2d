// The rows of `corral ps` and GET /v1/processes.
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

/** How long `ps` waits for a busy service's metrics. */
const METRICS_WAIT_MS = 1000;

export async function processRows(ns: DaemonNamespace): Promise<ProcessRow[]> {
  const rows: ProcessRow[] = [];
  for (const { serviceId, processes } of ns.processStatuses()) {
    // A row without CPU and memory beats no row: the failure goes to the daemon's log.
    // Metrics wait behind the service's queue: a scale or restart in progress (a process in a 60 s stop
    // grace period) must not hold `ps` up, so after a moment the rows go without them.
    let timer: NodeJS.Timeout | undefined;
    const metrics = await Promise.race([
      ns.fetchServiceMetrics(serviceId).catch((error: unknown) => {
        reportSurvivable("server.processes", "read metrics", error, { service: serviceId });
        return [];
      }),
      new Promise<[]>((resolve) => (timer = setTimeout(() => resolve([]), METRICS_WAIT_MS))),
    ]);
    clearTimeout(timer);
    const addresses = ns.addressesOf(serviceId);
    for (const event of processes) {
      const m = metrics[event.processId];
      // An exit event keeps the PID that exited; only a live process shows one.
      const alive =
        event.status === "online" || event.reason === "starting" || event.reason === "probe-failed" || event.reason === "stopping";
      const pid = alive ? event.pid : undefined;
      rows.push({
        service: serviceId,
        process: event.processId,
        status: event.status,
        reason: event.status === "online" ? null : (event.reason ?? null),
        lastExitReason: event.lastExitReason ?? null,
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
  // By service, then process: the same order after a restart or a scale.
  return rows.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : a.process - b.process));
}
