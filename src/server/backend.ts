// What the daemon needs from wherever the services run: local processes (the
// embedded default) or a Kubernetes cluster. The process namespace provides all
// of it directly; Kubernetes goes through a small adapter that derives process
// statuses and addresses from the contract alone.
import type { Backend, DesiredState, KubernetesTarget } from "../config/types.js";
import type {
  LogLine,
  LogOptions,
  SecretsController,
  Service,
  ServiceConfig,
  ServiceEvent,
  ServiceProcessMetrics,
} from "../contract/types.js";
import type { NamespacedKubernetesOrchestrator } from "../kubernetes/namespaced.js";
import type { KubernetesOrchestrator } from "../kubernetes/orchestrator.js";
import { ProcessOrchestrator, type ProcessOrchestratorConfig } from "../process/orchestrator.js";
import type { LaunchTarget } from "../process/namespace.js";
import type { ServiceDiscoveryTarget } from "../process/service-discovery.js";
import { recordedServices } from "../process/service-manifest.js";
import type { ServiceEdgeStats } from "../process/namespace.js";
import { survive } from "../util/diagnostics.js";
import type { StatePaths } from "./state-dir.js";

export interface ProcessAddresses {
  /** Port name → Unix socket (process backend); for a socketDir port its directory, which clients such as `psql -h` take. */
  unix: Record<string, string>;
  /** Port name → "host:port" (the TCP proxy, or the pod's DNS name on Kubernetes). */
  tcp: Record<string, string>;
}

export interface DaemonNamespace {
  readonly namespace: string;
  ensureService(id: string, config: ServiceConfig): Promise<Service>;
  dropService(id: string): Promise<void>;
  watchServices(opts?: { signal?: AbortSignal }): AsyncIterable<ServiceEvent>;
  fetchServiceMetrics(id: string): Promise<ServiceProcessMetrics[]>;
  logs(id: string, processIndex: number, opts?: LogOptions): AsyncIterable<LogLine>;
  /** The current status of every process of every service this daemon runs. */
  processStatuses(): { serviceId: string; processes: ServiceEvent[] }[];
  addressesOf(id: string): ProcessAddresses[];
  /** Port name → the service address: Unix socket (process backend) and "host:port" where there is one. */
  serviceAddressesOf(id: string): Record<string, { unix?: string; tcp?: string }>;
  /** Each service address's figures (process backend: the balancers'). */
  edgeStats?(): ServiceEdgeStats[];
  /** Targets for Prometheus HTTP service discovery. */
  proxyTargets(): ServiceDiscoveryTarget[];
  /** What a process runs, for corral run and exec (process backend only). */
  launchSpecOf?(id: string, index: number): Promise<LaunchTarget>;
}

export interface DaemonBackend {
  readonly kind: Backend;
  readonly environmentId: string;
  namespace(name: string): DaemonNamespace;
  secretsController(): SecretsController;
  /** Rolling restart where the backend does it in place (processes); undefined where a changed spec does it (Kubernetes). */
  restartService?(namespace: string, id: string): Promise<void>;
  /** One process replaced (stopped, then started again), where the backend does it in place (processes). */
  restartProcess?(namespace: string, id: string, index: number): Promise<void>;
  /** Every service the backend keeps files for, in any namespace, desired or not (processes: their run directories). */
  recordedServices?(): Promise<{ namespace: string; id: string }[]>;
  close(opts: { leaveRunning: boolean }): Promise<void>;
}

/** The backend a desired state asks for; a process backend keeps everything under the state directory. */
export async function createBackend(
  kind: Backend,
  environment: string,
  paths: StatePaths,
  desired: DesiredState | null,
  config: { launcher?: ProcessOrchestratorConfig["launcher"] },
): Promise<DaemonBackend> {
  if (kind === "kubernetes") return kubernetesBackend(environment, desired?.kubernetes ?? {});
  return processBackend(
    await ProcessOrchestrator.create({
      imageDir: paths.root,
      environmentId: environment,
      stateDir: paths.run,
      scratchDirectory: paths.scratch,
      secretsDir: paths.secrets,
      volumeDirectory: paths.volumes,
      suppressOutput: true,
      // TCP only where a service asks: ports with expose, and the port Prometheus scrapes.
      tcpProxy: { listenAddr: "127.0.0.1", prometheusServiceDiscoveryDir: paths.discovery, ports: "exposed" },
      ...(config.launcher ? { launcher: config.launcher } : {}),
    }),
  );
}

export function processBackend(orchestrator: ProcessOrchestrator): DaemonBackend {
  return {
    kind: "process",
    environmentId: orchestrator.config.environmentId,
    namespace: (name) => orchestrator.namespace(name),
    secretsController: () => orchestrator.secretsController(),
    restartService: (namespace, id) => orchestrator.namespace(namespace).restartService(id),
    restartProcess: (namespace, id, index) => orchestrator.namespace(namespace).restartProcess(id, index),
    recordedServices: () => recordedServices(orchestrator.config.stateDir),
    close: (opts) => orchestrator.close(opts),
  };
}

/** Loads the Kubernetes backend (and its client) only when a file asks for it. */
export async function kubernetesBackend(environmentId: string, target: KubernetesTarget): Promise<DaemonBackend> {
  const { KubernetesOrchestrator } = await import("../kubernetes/orchestrator.js");
  const orchestrator: KubernetesOrchestrator = await KubernetesOrchestrator.create({
    ...(target.kubeconfig ? { kubeconfig: target.kubeconfig } : {}),
    ...(target.namespace ? { kubernetesNamespace: target.namespace } : {}),
    // Several environments can share a Kubernetes namespace.
    namePrefix: `${environmentId}-`.slice(0, 20),
  });
  const namespaces = new Map<string, KubernetesNamespace>();
  return {
    kind: "kubernetes",
    environmentId,
    namespace(name) {
      let ns = namespaces.get(name);
      if (!ns) namespaces.set(name, (ns = new KubernetesNamespace(name, orchestrator)));
      return ns;
    },
    secretsController: () => orchestrator.secretsController(),
    async close() {
      // The cluster keeps running the services; a later daemon picks them up with the desired state.
      for (const ns of namespaces.values()) ns.close();
      await orchestrator.close();
    },
  };
}

/** The contract's Kubernetes namespace plus the bookkeeping the daemon's views need, kept from its own watch. */
class KubernetesNamespace implements DaemonNamespace {
  private readonly inner: NamespacedKubernetesOrchestrator;
  private readonly services = new Map<string, { handle: Service; ports: string[]; scale: number }>();
  private readonly latest = new Map<string, ServiceEvent>();
  private readonly watching = new AbortController();

  constructor(
    readonly namespace: string,
    orchestrator: KubernetesOrchestrator,
  ) {
    const inner = orchestrator.namespace(namespace) as NamespacedKubernetesOrchestrator;
    this.inner = inner;
    void (async () => {
      for await (const event of inner.watchServices({ signal: this.watching.signal }))
        this.latest.set(`${event.serviceId}/${event.processId}`, event);
    })().catch(survive("server.kubernetes", "follow the namespace's events", { namespace }));
  }

  async ensureService(id: string, config: ServiceConfig): Promise<Service> {
    const handle = await this.inner.ensureService(id, config);
    this.services.set(id, { handle, ports: (config.ports ?? []).map((p) => p.name), scale: config.scale });
    return handle;
  }

  async dropService(id: string): Promise<void> {
    await this.inner.dropService(id);
    this.services.delete(id);
  }

  watchServices(opts?: { signal?: AbortSignal }): AsyncIterable<ServiceEvent> {
    return this.inner.watchServices(opts);
  }

  fetchServiceMetrics(id: string): Promise<ServiceProcessMetrics[]> {
    return this.inner.fetchServiceMetrics(id);
  }

  logs(id: string, processIndex: number, opts?: LogOptions): AsyncIterable<LogLine> {
    return this.inner.logs(id, processIndex, opts);
  }

  processStatuses(): { serviceId: string; processes: ServiceEvent[] }[] {
    return [...this.services.keys()].sort().map((serviceId) => ({
      serviceId,
      processes: Array.from(
        { length: this.services.get(serviceId)!.scale },
        (_, processId) =>
          this.latest.get(`${serviceId}/${processId}`) ?? {
            serviceId,
            processId,
            status: "offline" as const,
            reason: "starting",
            time: new Date(),
            restartCount: 0,
          },
      ),
    }));
  }

  addressesOf(id: string): ProcessAddresses[] {
    const service = this.services.get(id);
    if (!service) return [];
    const byPort = service.ports.map((port) => [port, service.handle.addresses(port)] as const);
    return Array.from({ length: service.scale }, (_, i) => ({
      unix: {},
      tcp: Object.fromEntries(byPort.map(([port, all]) => [port, all[i]!])),
    }));
  }

  serviceAddressesOf(id: string): Record<string, { tcp: string }> {
    const service = this.services.get(id);
    if (!service) return {};
    return Object.fromEntries(service.ports.map((port) => [port, { tcp: service.handle.serviceTcpAddress(port) }]));
  }

  proxyTargets(): ServiceDiscoveryTarget[] {
    return []; // Prometheus discovers pods through Kubernetes itself.
  }

  close(): void {
    this.watching.abort();
  }
}
