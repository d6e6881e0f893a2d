// What the daemon's API sends (see src/server/process-table.ts and the contract's ServiceEvent).
export type Status = "online" | "offline" | (string & {});

import type { EdgeStats as BalancerStats } from "../../src/process/edge-stats.js";
import type { ProcessRow } from "../../src/server/process-row.js";
export type { ProcessRow };

export interface ServiceSpec {
  command: string;
  args: string[];
  ports: { name: string; portHint?: number }[];
  scale: number;
  labels: Record<string, string>;
  env: Record<string, string>;
  [field: string]: unknown;
}

/** Port name → the service's own address (src/server/wire.ts serviceAddressesBody): its Unix socket and, where exposed, "host:port". */
export type ServiceAddresses = Record<string, { unix?: string; tcp?: string }>;

/** What one service address has done since the daemon started (src/server/wire.ts edgeStatsBody): the balancer's figures, per port. */
export type EdgeStats = BalancerStats & { port: string };

/** GET /v1/services. */
export interface ServiceEntry {
  id: string;
  spec: ServiceSpec;
  processes: ProcessRow[];
  serviceAddresses: ServiceAddresses;
  /** One entry per port with a service address. */
  edge: EdgeStats[];
}

export interface ServiceEvent {
  serviceId: string;
  processId: number;
  status: Status;
  time: string;
  reason?: string;
  message?: string;
  restartCount: number;
  pid?: number;
  exitCode?: number | null;
  signal?: string | null;
  nextStartAt?: string;
  /** The process ended and will not be started again (a job that completed or failed). */
  final?: true;
  warning?: string;
  /** The latest result of each probe (startup, readiness, liveness). */
  probes?: Partial<
    Record<
      "startup" | "readiness" | "liveness",
      { passed: boolean; durationMs: number; time: string; failures: number; lastError?: string }
    >
  >;
  crashLooping?: true;
}

export interface LogLine {
  process: number;
  time: string;
  stream: "stdout" | "stderr";
  line: string;
}

/** GET /v1/history/metrics. */
export interface MetricsHistory {
  intervalMs: number;
  idleIntervalMs: number;
  windowMs: number;
  series: { service: string; process: number; t: number[]; cpuNanoCores: (number | null)[]; memoryBytes: (number | null)[] }[];
  memoryLimits: Record<string, number>;
}
