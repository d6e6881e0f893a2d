// What the HTTP API needs from the daemon, and nothing more: the routes depend
// on this interface (each plugin on the part it uses), not on the Daemon
// class, so the server's modules import no daemon and the daemon imports them.
import type { SecretsController, ServiceEvent } from "../contract/types.js";
import type { DesiredState, ServiceSpec } from "../config/types.js";
import type { ApplyResult, PendingService } from "./apply.js";
import type { DaemonNamespace } from "./backend.js";
import type { DashboardSessions } from "./dashboard/session.js";
import type { DaemonHistory } from "./history.js";
import type { ProcessRow } from "./process-row.js";

export interface ApplyCallOptions {
  /** How long the whole apply may take, from the call (default: DAEMON_DEFAULTS.dependencyTimeoutMs per dependency only). */
  timeoutMs?: number;
  /** Aborting it stops the apply's waits (the caller left); the apply rejects with ApplyInterruptedError. */
  signal?: AbortSignal;
  /** Progress lines ("web waits for db to be ready"). */
  onProgress?: (message: string) => void;
}

/** A TCP listener's address: as it listens, and host:port for a browser on this machine. */
export interface ListenAddress {
  listen: string;
  urlHost: string;
}

export interface DaemonApi {
  readonly environment: string;
  readonly token: string;
  /** The read-only token: GET on the routes in READ_SCOPE, nothing else. */
  readonly readToken: string;
  /** host:port of the TCP listener the daemon was started with (`--tcp`), else null. */
  readonly tcpAddress?: string | null;
  /** The desired state (null before the first apply). */
  readonly state: DesiredState | null;
  /** What is wrong with the daemon itself (an unloadable state file, dropped log lines): shown by /healthz. */
  readonly problems: string[];
  /** The namespace the desired state lives in (null before the first apply). */
  readonly namespace: DaemonNamespace | null;
  /** Services of the desired state not started (yet), and why: waiting for a dependency, blocked by one. */
  readonly pendingServices?: ReadonlyMap<string, PendingService>;
  /** Where secrets live: the current backend's. */
  secrets(): SecretsController;
  /** Sets a secret; when its value changed, rolls the services that read it (dependencies first). Returns those services. */
  setSecret(id: string, contents: Uint8Array): Promise<string[]>;
  /** Deletes a secret: a NotFoundError when there is none, a ConflictError while services read it. */
  deleteSecret(id: string): Promise<void>;
  /** A snapshot of every process (then `snapshotEnd`), then every change, until `signal` aborts. */
  watch(signal: AbortSignal): AsyncIterable<ServiceEvent | { snapshotEnd: true }>;
  apply(next: DesiredState, options?: ApplyCallOptions): Promise<ApplyResult>;
  putService(id: string, spec: ServiceSpec): Promise<ApplyResult>;
  deleteService(id: string): Promise<ApplyResult>;
  /** Sets the scale; 0 stops the service (as stop does), another scale runs that many processes (a stopped service starts). */
  scale(id: string, scale: number): Promise<ApplyResult>;
  /** Stops a service's processes; it stays in the desired state, stopped, across daemon restarts, until start or up. */
  stop(id: string): Promise<ApplyResult>;
  /** Starts a stopped service again, its stopped dependencies first. */
  start(id: string): Promise<ApplyResult>;
  restart(id: string): Promise<void>;
  /** Replaces one process (stopped, started again) whatever its restart policy. */
  restartProcess(id: string, index: number): Promise<void>;
  /** Sends a signal to one running process; its restart policy decides what follows. */
  killProcess(id: string, index: number, signal: NodeJS.Signals): { pid: number };
  /** The recent past: events and metric samples, bounded. */
  readonly history: DaemonHistory;
  /**
   * The rows of `ps`: every process with its CPU and memory read now, and rows
   * for the services that wait, are blocked or are stopped. The history keeps
   * the reading (see HISTORY_DEFAULTS.sampleIntervalMs).
   */
  processRows(): Promise<ProcessRow[]>;
  shutdown(options?: { stopServices?: boolean }): Promise<void>;
  /** The dashboard's sessions and tickets, shared by every listener. */
  readonly sessions: DashboardSessions;
  /** Makes sure a TCP listener serves the dashboard (on 127.0.0.1 unless the daemon was started with one). */
  openDashboardListener(port?: number): Promise<ListenAddress>;
}
