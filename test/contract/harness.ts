// What the contract suite needs from a backend, and nothing more: the suite
// itself (suite.ts) never names a backend.
import type { Orchestrator, ServiceConfig } from "../../src/contract/types.js";

/**
 * Programs the suite runs. Each backend provides them its own way (an
 * executable in the process backend's imageDir, a container image on a
 * cluster, a simulated program on the fake API server):
 *
 * - "sleeper" runs until it is stopped;
 * - "printer" prints `out-line <processIndex>` on stdout once it starts, then
 *   runs until it is stopped.
 */
export type ProgramKind = "sleeper" | "printer";

/** The checks a backend may mark as a known violation (a node:test `todo`), one assertion each. */
export type ContractCheck =
  | "listServices sees an ensure made before it"
  | "listServices sees a drop made before it"
  | "a drop made right after an ensure wins"
  | "fetchServiceMetrics sees an ensure made before it"
  | "fetchServiceMetrics sees a drop made before it"
  | "bad input names the field: service id";

/** One isolated world of a backend: created for one test, cleaned up after it, pass or fail. */
export interface BackendHarness {
  /** A new orchestrator in this world; cleanup() closes it and removes what it started. */
  create(options?: { watchBufferSize?: number }): Promise<Orchestrator>;
  /** The image (and args) that runs `kind` on this backend. */
  image(kind: ProgramKind): Pick<ServiceConfig, "image" | "args">;
  /**
   * One incarnation of a process (a PID and its start time, a pod's uid): it
   * changes when the process is replaced, not when it is restarted in place
   * (Kubernetes restarts a container in the same pod).
   */
  identity(namespace: string, id: string, processIndex: number): Promise<string>;
  /** Makes a running process die as a crash would (the backend's supervisor must restart it). */
  crash(namespace: string, id: string, processIndex: number): Promise<void>;
  /** What exists outside the orchestrator's memory (processes, files, API objects, writes), for "nothing was created". */
  footprint(): Promise<string[]>;
  /** Removes everything this world started, even after a failed test. */
  cleanup(): Promise<void>;
}

export interface Backend {
  name: string;
  /** A reason to skip the whole suite (no cluster reachable, ...), or false. */
  skip: string | false;
  /** Bound of every wait for an event; not a timing assertion, only a guard against hanging. */
  boundMs: number;
  /** Known contract violations of this backend: the single assertion runs as a `todo` with this reason. */
  todo?: Partial<Record<ContractCheck, string>>;
  start(): Promise<BackendHarness>;
}
