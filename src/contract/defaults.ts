// Every default corral applies, in one table. Code reads them from here, and
// the README's reference is checked against this file, so the two cannot drift.
import type { BalancePolicy, RestartBackoff, RestartPolicy } from "./types.js";

/** What every backend applies where a ServiceConfig leaves a lifecycle field out. */
export const SERVICE_DEFAULTS = {
  scale: 1,
  restartPolicy: "always" as RestartPolicy,
  restartBackoff: { initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 0.2, resetAfterMs: 30_000 } satisfies Required<RestartBackoff>,
  stopSignal: "SIGTERM" as NodeJS.Signals,
  terminationGracePeriodMs: 10_000,
  /** How long connections through the service address may take to end before a leaving process is stopped. */
  drainMs: 5_000,
  balance: "round-robin" as BalancePolicy,
  readiness: { periodMs: 1000, timeoutMs: 1000, failureThreshold: 3 },
  liveness: { periodMs: 1000, timeoutMs: 1000, failureThreshold: 3, initialDelayMs: 0 },
  startup: { periodMs: 1000, timeoutMs: 1000, deadlineMs: 60_000 },
  /** The crash-loop breaker's window when restart.maxRestarts is given without one. */
  restartLimit: { windowMs: 60_000 },
  /** Quick failures in a row (runs shorter than restartBackoff.resetAfterMs) from which a process shows as crash-looping. */
  crashLoopingAfter: 5,
  /** How long a lifecycle hook (hooks:, stop.command) may run before it is killed. */
  hookTimeoutMs: 30_000,
  /** forking: how long the launched process may take to leave its server behind (and write pidFile). */
  forkTimeoutMs: 10_000,
} as const;

/** ProcessOrchestratorConfig fields left out. */
export const PROCESS_ORCHESTRATOR_DEFAULTS = {
  launcher: "auto",
  adoptPollMs: 250,
  rolloutTimeoutMs: 120_000,
  watchBufferSize: 10_000,
  logRotation: { maxBytes: 10 * 1024 * 1024, files: 5 },
  tcpProxy: { lingerMs: 10_000, backendConnectTimeoutMs: 5_000 },
} as const;

/** KubernetesOrchestratorConfig fields left out. */
export const KUBERNETES_ORCHESTRATOR_DEFAULTS = {
  rolloutTimeoutMs: 300_000,
  stopTimeoutMs: 120_000,
  pollIntervalMs: 500,
  watchBufferSize: 10_000,
  fieldManager: "corral",
} as const;

/** The daemon and the `corral` command. */
export const DAEMON_DEFAULTS = {
  /** Connections the API keeps open per listener; past it the oldest idle one is closed for a new one (streams and requests in flight are kept). */
  apiMaxConnections: 512,
  /** Connections one TCP client (address) may hold: one client cannot take every connection. */
  apiMaxConnectionsPerClient: 64,
  /** A connection with no request in flight (and not a stream) is closed after this long idle. */
  apiIdleTimeoutMs: 10_000,
  /** A request must have arrived whole (headers and body) within this. */
  apiRequestTimeoutMs: 30_000,
  /** How long an apply waits for one dependency's condition. */
  dependencyTimeoutMs: 300_000,
  /** `corral up --timeout`, in seconds: how long the whole of `up` (the daemon's apply included) may take. */
  upTimeoutSeconds: 300,
  /** `corral up --wait-settle`: how long a process must stay online, not restarted, for up to count it online. */
  upSettleMs: 2000,
  /** How long the CLI waits for the daemon's answer to a quick call (ps, status, shutdown) before it says the daemon does not answer. */
  requestTimeoutMs: 15_000,
  /** How long `corral down` waits for the daemon to stop every service and exit. */
  downWaitMs: 120_000,
  /** `corral top --interval`, in milliseconds. */
  topIntervalMs: 1000,
} as const;

/** What the daemon remembers of the recent past for the dashboard (GET /v1/history/*): bounded in time and in count. */
export const HISTORY_DEFAULTS = {
  /** How far back events and metric samples reach. */
  windowMs: 60 * 60 * 1000,
  /** Events kept at most (the oldest go first), whatever the window. */
  maxEvents: 10_000,
  /**
   * The finest spacing of CPU and memory samples: every reading made for a
   * client (ps, the dashboard's poll, a Prometheus scrape) is kept once the last
   * kept one is at least this old.
   */
  sampleIntervalMs: 5000,
  /**
   * How often the daemon reads every process's CPU and memory on its own, when
   * no client's reading came for that long: what the charts' past costs while
   * nobody looks (one reading of 500 cgroups is ~30 ms of CPU; every 5 s it was
   * most of an idle daemon's CPU).
   */
  idleSampleIntervalMs: 60_000,
  /** Processes with a series at most (a series not sampled for a window goes first). */
  maxSeries: 2000,
} as const;

/** corral.yaml and the daemon's desired state. */
export const CONFIG_DEFAULTS = {
  namespace: "default",
  backend: "process",
} as const;

/**
 * The bounds every input is checked against (corral.yaml, the HTTP API, the
 * library's ServiceConfig), before anything is written: a value past them is a
 * 400 naming the field and the bound, never a daemon out of memory.
 */
export const INPUT_LIMITS = {
  /** Processes of one service. */
  maxScale: 10_000,
  /** Processes of one desired state, all services together. */
  maxProcesses: 10_000,
  /** One argument, variable value or path: Linux's MAX_ARG_STRLEN, the longest string execve takes. */
  maxStringLength: 131_072,
  /** A request body the daemon reads (a desired state with many services, a secret). */
  maxBodyBytes: 16 * 1024 * 1024,
} as const;
