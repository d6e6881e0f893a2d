import type { CpuLimit, DiskLimit, MemoryLimit } from "./limits.js";
import type { LivenessProbe, ProbeResults, RestartLimit, StartupProbe } from "./health.js";
import type { HookName, LifecycleHooks, StopCommand } from "./lifecycle.js";
import type { LabelSelector, ServiceSchedulingConfig } from "./scheduling.js";

/** Hands out one orchestrator per namespace; the same name returns the same object. */
export interface Orchestrator {
  namespace(name: string): NamespacedOrchestrator;
}

export interface NamespacedOrchestrator {
  /** Creates or updates a service; the same config again changes nothing. */
  ensureService(id: string, config: ServiceConfig): Promise<Service>;
  /** Stops and removes a service. Unknown ids are fine. */
  dropService(id: string): Promise<void>;
  /** Every service of this namespace, including leftovers of an earlier run. */
  listServices(): Promise<string[]>;
  /** One event per existing process first, then every change. */
  watchServices(opts?: { signal?: AbortSignal }): AsyncIterable<ServiceEvent>;
  /** One entry per process, in process order. */
  fetchServiceMetrics(id: string): Promise<ServiceProcessMetrics[]>;
  updateSchedulingConfig(config: ServiceSchedulingConfig): void;
  /** Lines of one process's output: the last `tail` (all without it), then with `follow` every new one until `signal` aborts. */
  logs(id: string, processIndex: number, opts?: LogOptions): AsyncIterable<LogLine>;
}

export interface LogOptions {
  tail?: number;
  follow?: boolean;
  signal?: AbortSignal;
  /** Only lines written at or after this time. */
  since?: Date;
  /** Only lines written before this time. */
  until?: Date;
}

export interface LogLine {
  time: Date;
  stream: "stdout" | "stderr";
  line: string;
}

/** Where a service listens. */
export interface Service {
  /** One address per process, in order. An unknown port name throws. */
  addresses(port: string): string[];
  /**
   * The one address of the whole service for `port`, balancing new connections
   * over the processes that are ready (process backend: a Unix socket, or for a
   * socketDir port the directory holding `socketFile`; Kubernetes: the ClusterIP
   * Service's `host:port`). An unknown port name throws.
   */
  serviceAddress(port: string): string;
  /**
   * The service address as `host:port` over TCP: on the process backend where the
   * port is exposed (or the orchestrator's `tcpProxy` is on); on Kubernetes the
   * same as serviceAddress. A port without one throws.
   */
  serviceTcpAddress(port: string): string;
}

export interface ServicePort {
  name: string;
  portHint?: number;
  /**
   * Process backend: the process gets a directory of its own for this port
   * (`ServiceAssignments.socketDirs`) and listens on `<dir>/<socketFile>` in it,
   * as PostgreSQL (`-k dir`) does. The address, probes and TCP proxy use that socket.
   */
  socketDir?: boolean;
  /** With socketDir: the name of the socket the process creates in its directory, e.g. ".s.PGSQL.5432". */
  socketFile?: string;
  /**
   * Process backend: give the service address of this port a TCP listener
   * (`serviceTcpAddress`), on loopback with `true`, or on the address given
   * (a non-loopback one is warned about). portHint then fixes that listener's port.
   */
  expose?: boolean | string;
  /**
   * Process backend: a loopback TCP proxy for each process of this port (what
   * Prometheus needs to scrape each one), also where the orchestrator's
   * `tcpProxy.ports` is "exposed". With `ports: "all"` every port has them.
   */
  tcpPerProcess?: boolean;
}

/** How the service address picks a ready process for each new connection. */
export type BalancePolicy = "round-robin" | "least-connections";

export type RestartPolicy = "always" | "on-failure" | "never";

/**
 * Capped exponential back-off between restarts: the first after about
 * `initialMs`, each next one `multiplier` times longer up to `maxMs`, every
 * delay spread by ±`jitter` (a fraction) so crash-looping siblings do not
 * restart in lockstep; after `resetAfterMs` of running, a crash counts as the first again.
 */
export interface RestartBackoff {
  initialMs?: number;
  maxMs?: number;
  multiplier?: number;
  jitter?: number;
  resetAfterMs?: number;
}

export interface ReadinessProbe {
  socket?: string;
  http?: { port: string; path: string };
  exec?: string[];
  /** Ready once a line of the process's stdout or stderr matches this regular expression (and from then on). */
  logLine?: string;
  periodMs?: number;
  timeoutMs?: number;
  failureThreshold?: number;
}

export interface ServiceConfig {
  /** Process backend: a file in `imageDir`, or an absolute path. Kubernetes: a container image. */
  image: string;
  args?: (assignments: ServiceAssignments) => string[];
  ports?: ServicePort[];
  /** Number of processes; 0 keeps the service (and its files) with no process running. */
  scale: number;
  memoryLimit?: MemoryLimit;
  cpuLimit?: CpuLimit;
  diskLimit?: DiskLimit;
  /** Give the service a scratch directory. */
  disk?: boolean;
  labels?: Record<string, string>;
  env?: Record<string, string>;
  /**
   * Variables whose values depend on the process (its socket, its index, ...),
   * computed per process like `args`; they win over `env`. The process backend
   * fills them in; corral.yaml's `env:` values with placeholders become these.
   */
  envTemplate?: (assignments: ServiceAssignments) => Record<string, string>;
  /**
   * Secrets (by id, from the orchestrator's secrets controller) delivered as
   * files: `<secretsDirectory>/<id>`, read-only for the service's user, the
   * directory passed as `assignments.secretsDirectory` and `CORRAL_SECRETS_DIR`
   * (systemd's credentials model). A changed secret is a changed process.
   */
  secrets?: string[];
  /** Environment variable name → secret id: the secret's contents (UTF-8) as that variable. */
  secretEnv?: Record<string, string>;
  /** Where the process runs (an absolute path); default: the orchestrator's own working directory. */
  workingDirectory?: string;
  /**
   * Run the processes as this user (a name or a numeric uid) instead of the
   * orchestrator's own; only root may. Kubernetes: a uid becomes the pod's runAsUser.
   */
  user?: string | number;
  /** The group (a name or a gid); default: the user's primary group. Kubernetes: runAsGroup. */
  group?: string | number;
  /**
   * Process backend: names of the orchestrator's volumes the service uses:
   * directories (`<volumeDirectory>/<name>`) that outlive the service, shared by
   * every service that names them; see `ServiceAssignments.volumes`.
   */
  volumes?: string[];
  restartPolicy?: RestartPolicy;
  /** Overrides the orchestrator's restart back-off for this service. */
  restartBackoff?: RestartBackoff;
  readiness?: ReadinessProbe;
  // The health model (contract/health.ts).
  liveness?: LivenessProbe;
  startup?: StartupProbe;
  restartLimit?: RestartLimit;
  stopSignal?: NodeJS.Signals;
  terminationGracePeriodMs?: number;
  /**
   * Process backend: a process leaving the set is first taken out of the service
   * address's rotation, and its connections through it get up to this long to end
   * before preStop and the stop signal (default 5000). Kubernetes: endpoints
   * drop a terminating pod by themselves; use a preStop hook to wait there.
   */
  drainMs?: number;
  /** How the service address balances new connections (default round-robin). */
  balance?: BalancePolicy;
  /** Commands run before and after start and stop (see lifecycle.ts). Kubernetes: postStart/preStop become the container's lifecycle. */
  hooks?: LifecycleHooks;
  /** Stop the processes with this command instead of the stop signal (the signal follows after the grace period). */
  stop?: StopCommand;
  /**
   * Process backend: the launched program forks a server and exits (0); corral
   * supervises the server it left, found through its cgroup (else its process group).
   */
  forking?: boolean;
  /** Process backend: the server's PID file (an absolute path): implies forking, and names the server to supervise. */
  pidFile?: string;
  // Accepted by every backend, acted on by Kubernetes only.
  initContainerImage?: string;
  availabilityZones?: string[];
  otherReplicasSelector?: LabelSelector[];
  replicasSelector?: LabelSelector[];
  nodeSelector?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ServiceAssignments {
  processIndex: number;
  /** Port name to this process's address. */
  listenAddrs: Record<string, string>;
  /** One map of port name to address per process of the service. */
  peerAddrs: Record<string, string>[];
  /** Port name to the service address (balanced over the ready processes); `%A:<port>` in corral.yaml. */
  serviceAddrs?: Record<string, string>;
  scratchDirectory?: string;
  /** Port name → this process's socket directory, for ports with socketDir (the socket is `<dir>/<socketFile>`). */
  socketDirs?: Record<string, string>;
  /** Volume name → its directory, for the service's `volumes`. */
  volumes?: Record<string, string>;
  /** Where this process finds the files of its `secrets`; set when the service names any. */
  secretsDirectory?: string;
}

export type ServiceStatus = "online" | "offline";

/** Why a process is offline. Open-ended: backends may add their own. */
export type OfflineReason =
  | "starting"
  | "oom-killed"
  | "crashed"
  | "exited"
  | "completed"
  | "spawn-failed"
  | "probe-failed"
  | "backoff"
  | "stopped"
  | "liveness-failed"
  | "startup-timeout"
  | "crash-loop"
  | (string & {});

export interface ServiceEvent {
  serviceId: string;
  processId: number;
  status: ServiceStatus;
  time: Date;
  reason?: OfflineReason;
  /** Human-readable detail, e.g. the spawn error. */
  message?: string;
  restartCount: number;
  pid?: number;
  exitCode?: number | null;
  signal?: string | null;
  /** With reason "backoff": when the next start is due. */
  nextStartAt?: Date;
  /**
   * Set (true) on the event of a process that ended and that its restart
   * policy will not start again: a job that completed (reason "completed") or
   * failed for good. Consumers need not re-derive it from the policy.
   */
  final?: true;
  /** A lifecycle hook ran (the status fields repeat the current state). */
  hook?: HookResult;
  /** In status snapshots (`ps`): why the slot's process last ended, when its status now is another ("online, after oom-killed"). */
  lastExitReason?: OfflineReason;
  /** Something the user must know about the service (sent once), e.g. limits the launcher cannot enforce. The status fields repeat the current state. */
  warning?: string;
  /** The latest result of each probe the process has (sent when one changes: passed/failed, or why it fails). */
  probes?: ProbeResults;
  /** Set from the Nth quick failure in a row (a run shorter than the back-off's resetAfterMs): the process keeps failing as it starts. */
  crashLooping?: true;
}

export interface HookResult {
  name: HookName | "stop";
  ok: boolean;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  /** Killed when its timeout passed. */
  timedOut?: true;
}

export interface ServiceProcessMetrics {
  cpuNanoCores: number | null;
  memoryBytes: number | null;
  diskBytes: number | null;
}

export interface SecretsReader {
  read(id: string): Promise<Uint8Array>;
  readString(id: string): Promise<string>;
}

export interface SecretsController {
  ensure(id: string, contents: Uint8Array): Promise<void>;
  delete(id: string): Promise<void>;
  list(): Promise<string[]>;
  reader(): SecretsReader;
}
