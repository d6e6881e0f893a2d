// The desired state as a file or an HTTP client states it: plain JSON, so the
// daemon can persist it and a later daemon re-apply it. `toServiceConfig`
// (in translate.ts) turns a ServiceSpec into the contract's ServiceConfig.
import type { ReadinessProbe, RestartBackoff, RestartPolicy, ServicePort } from "../contract/types.js";

/** When a dependent service may start: the dependency's processes are started, ready (online), or have completed. */
export type DependencyCondition = "started" | "ready" | "completed";

export interface ServiceSpec {
  /** Process backend: absolute path of the program (the loader resolves relative paths and names on PATH). */
  command?: string;
  /** Kubernetes backend: the container image. */
  image?: string;
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
  /** Set by `corral restart` on Kubernetes: a new value rolls every pod (as an annotation of the pod template). */
  restartedAt?: string;
}

export type Backend = "process" | "kubernetes";

export interface KubernetesTarget {
  /** Absolute path of a kubeconfig; default: $KUBECONFIG, ~/.kube/config, else in-cluster credentials. */
  kubeconfig?: string;
  /** The Kubernetes namespace the services go to; default: the kubeconfig context's. */
  namespace?: string;
}

export interface DesiredState {
  environment: string;
  namespace: string;
  /** Where the services run (default: process, local processes). */
  backend?: Backend;
  kubernetes?: KubernetesTarget;
  services: Record<string, ServiceSpec>;
}
