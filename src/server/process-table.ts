// The rows of `corral ps` and GET /v1/processes.
import type { PendingService } from "./apply.js";
import type { DesiredState } from "../config/types.js";
import { runningScale } from "../config/translate.js";
import type { DaemonNamespace } from "./backend.js";
import { type ProcessRow, byServiceAndProcess } from "./process-row.js";
import { clockTicksPerSecond, readProcStat, uptimeSeconds } from "../process/proc.js";
import { reportSurvivable } from "../util/diagnostics.js";

export type { ProcessRow } from "./process-row.js";

/**
 * Start times (clock ticks after boot) of the processes of the latest rows, by
 * pid and the time of their status: a process's start never changes, and
 * reading every row's /proc/<pid>/stat was most of what a `ps` of 500 processes
 * cost the daemon. Pids seen in no call of the last minute are forgotten.
 */
const startTimes = new Map<string, { ticks: number; seen: number }>();
const START_TIME_TTL_MS = 60_000;

function startTicks(pid: number, statusTime: Date, now: number): number | null {
  const key = `${pid}@${statusTime.getTime()}`;
  const known = startTimes.get(key);
  if (known) {
    known.seen = now;
    return known.ticks;
  }
  const stat = readProcStat(pid);
  if (!stat) return null;
  startTimes.set(key, { ticks: stat.startTime, seen: now });
  return stat.startTime;
}

function forgetStartTimes(now: number): void {
  for (const [key, entry] of startTimes) if (now - entry.seen > START_TIME_TTL_MS) startTimes.delete(key);
}

/**
 * How long a process has run, from its start time in /proc (right for adopted
 * processes too). `bootUptime`: the machine's, read once for all the rows.
 */
export function processUptime(pid: number | undefined, statusTime: Date, bootUptime: number, now = Date.now()): number | null {
  if (pid === undefined) return null;
  const ticks = startTicks(pid, statusTime, now);
  if (ticks === null) return null;
  return Math.max(0, Math.round((bootUptime - ticks / clockTicksPerSecond()) * 10) / 10);
}

/** How long `ps` waits for a busy service's metrics. */
const METRICS_WAIT_MS = 1000;

/** What the daemon knows beyond the backend: services that wait or are blocked, and the desired state (stopped services). */
export interface ProcessRowContext {
  pending?: ReadonlyMap<string, PendingService> | undefined;
  state?: DesiredState | null | undefined;
  /** Given the rows of the processes the namespace supervises, as measured (the history keeps them). */
  measured?: ((rows: readonly ProcessRow[]) => void) | undefined;
}

/**
 * One row per process, sorted by service and process. A service of the desired
 * state that has no process keeps rows too, so it does not vanish from `ps` and
 * the dashboard: one saying why it waits (for a dependency, blocked by a failed
 * job), or for a stopped service (corral stop, scale 0) one per process it
 * would run, offline with reason "stopped", as `docker compose ps -a` lists
 * stopped containers.
 */
export async function processRows(ns: DaemonNamespace, { pending, state, measured }: ProcessRowContext = {}): Promise<ProcessRow[]> {
  const rows: ProcessRow[] = [];
  const statuses = ns.processStatuses();
  for (const { serviceId, processes } of statuses) {
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
    const bootUptime = uptimeSeconds();
    const now = Date.now();
    for (const event of processes) {
      const m = metrics[event.processId];
      // An exit event keeps the PID that exited; only a live process shows one.
      const alive =
        event.status === "online" ||
        ["starting", "probe-failed", "liveness-failed", "startup-timeout", "stopping"].includes(event.reason ?? "");
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
        uptimeSeconds: processUptime(pid, event.time, bootUptime, now),
        addresses: addresses[event.processId]?.unix ?? {},
        tcpAddresses: addresses[event.processId]?.tcp ?? {},
        nextStartAt: event.nextStartAt?.toISOString() ?? null,
        message: event.message ?? null,
        probes: Object.fromEntries(
          Object.entries(event.probes ?? {}).map(([kind, r]) => [
            kind,
            {
              passed: r.passed,
              durationMs: r.durationMs,
              time: r.time.toISOString(),
              failures: r.failures,
              lastError: r.lastError ?? null,
            },
          ]),
        ),
        crashLooping: event.crashLooping === true || event.reason === "crash-loop",
      });
    }
  }
  forgetStartTimes(Date.now());
  measured?.(rows);
  const running = new Set(statuses.filter((s) => s.processes.length > 0).map((s) => s.serviceId));
  for (const [service, why] of pending ?? []) if (!running.has(service)) rows.push(offlineRow(service, 0, why.reason, why.message));
  if (state) rows.push(...stoppedRows(state, rows));
  // By service, then process: the same order after a restart or a scale.
  return rows.sort(byServiceAndProcess);
}

function stoppedRows(state: DesiredState, rows: readonly ProcessRow[]): ProcessRow[] {
  const stopped: ProcessRow[] = [];
  for (const [service, spec] of Object.entries(state.services).sort(([a], [b]) => a.localeCompare(b))) {
    if (runningScale(spec) !== 0) continue;
    for (let process = 0; process < Math.max(spec.scale, 1); process++) {
      // A process still stopping shows as it is until it is gone.
      if (rows.some((r) => r.service === service && r.process === process)) continue;
      stopped.push(offlineRow(service, process, "stopped", null));
    }
  }
  return stopped;
}

function offlineRow(service: string, process: number, reason: string, message: string | null): ProcessRow {
  return {
    service,
    process,
    status: "offline",
    reason,
    pid: null,
    restarts: 0,
    cpuNanoCores: null,
    memoryBytes: null,
    uptimeSeconds: null,
    addresses: {},
    tcpAddresses: {},
    nextStartAt: null,
    message,
    probes: {},
    crashLooping: false,
  };
}
