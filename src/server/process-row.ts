// One row of `corral ps`, GET /v1/processes and the dashboard's tables. No imports:
// the dashboard (a browser bundle) shares this type with the daemon.
export interface ProcessRow {
  service: string;
  process: number;
  status: "online" | "offline";
  reason: string | null;
  /** Why the process last ended, when its status now is another ("online, after oom-killed"); "stopping" is a reason. */
  lastExitReason?: string | null;
  pid: number | null;
  restarts: number;
  cpuNanoCores: number | null;
  memoryBytes: number | null;
  uptimeSeconds: number | null;
  /** Port name → Unix socket path, and → TCP proxy address under `tcp`. */
  addresses: Record<string, string>;
  tcpAddresses: Record<string, string>;
  /** Set while waiting to restart. */
  nextStartAt: string | null;
  /** The latest event's detail: a readiness probe's last error while starting ("HTTP 503"), a spawn error, ... */
  message: string | null;
  /** The latest result of each probe the process has (startup, readiness, liveness). */
  probes: Partial<Record<"startup" | "readiness" | "liveness", ProbeRow>>;
  /** Failing quickly again and again (from the 5th quick failure in a row), or stopped by the crash-loop breaker. */
  crashLooping: boolean;
}

export interface ProbeRow {
  passed: boolean;
  durationMs: number;
  time: string;
  failures: number;
  lastError: string | null;
}

/** The order of `ps` rows: by service, then process, the same after a restart or a scale. */
export function byServiceAndProcess(a: Pick<ProcessRow, "service" | "process">, b: Pick<ProcessRow, "service" | "process">): number {
  return a.service < b.service ? -1 : a.service > b.service ? 1 : a.process - b.process;
}
