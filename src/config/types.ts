// The desired state as a file or an HTTP client states it: plain JSON, so the
// daemon can persist it and a later daemon re-apply it. `toServiceConfig`
// (in translate.ts) turns a ServiceSpec into the contract's ServiceConfig.
import type { ReadinessProbe, RestartBackoff, RestartPolicy, ServicePort } from "../contract/types.js";

/** When a dependent service may start: the dependency's processes are started, ready (online), or have completed. */
export type DependencyCondition = "started" | "ready" | "completed";

export interface ServiceSpec {
  /** Absolute path of the program (the loader resolves relative paths and names on PATH). */
  command: string;
  /** Arguments; `%P:<port>` is the process's listen address for that port, `%N` `<namespace>-<service>`, `%I` the process index. */
  args: string[];
  ports: ServicePort[];
  scale: number;
  /** A MemoryLimit string, e.g. "512MiB". */
  memory?: string;
  /** A CpuLimit string, e.g. "1.5" or "250m". */
  cpu?: string;
  /** A scratch directory; a size string also limits it (diskLimit). */
  disk?: boolean | string;
  /** Environment, with the envFile's variables merged under the inline ones. */
  env: Record<string, string>;
  /** Where the processes run (absolute). The loader sets it, by default to the file's folder, so `node web.js` finds web.js. */
  workingDirectory?: string;
  labels: Record<string, string>;
  readiness?: ReadinessProbe;
  restart?: RestartPolicy;
  restartBackoff?: RestartBackoff;
  stopSignal?: NodeJS.Signals;
  stopGracePeriodMs?: number;
  /** Start after these services meet their condition; stop before them. */
  dependsOn: Record<string, DependencyCondition>;
}

export interface DesiredState {
  environment: string;
  namespace: string;
  services: Record<string, ServiceSpec>;
}
