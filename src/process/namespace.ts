// One namespace of a ProcessOrchestrator: the queue that applies every call in
// order, and the contract's methods. What they do is in the rooms beside it:
// launch-spec.ts (what a process runs), service-runtime.ts (a service's slots),
// rollout.ts (the rolling replacement), run-dir.ts (every file), leftovers.ts
// (processes of an earlier instance), proxies.ts (TCP proxies and discovery).
import { SERVICE_DEFAULTS } from "../contract/defaults.js";
import { UnknownServiceError, ValidationError } from "../contract/errors.js";
import type { ServiceSchedulingConfig } from "../contract/scheduling.js";
import type { LogLine, LogOptions, NamespacedOrchestrator, ServiceConfig, ServiceEvent, ServiceProcessMetrics } from "../contract/types.js";
import { validateId } from "../contract/validation.js";
import { survive } from "../util/diagnostics.js";
import { EventHub } from "../util/event-hub.js";
import type { ResolvedProcessConfig } from "./config.js";
import type { Launcher } from "./launch/types.js";
import { type LaunchSpec, ServiceSpecs } from "./launch-spec.js";
import { removeService, stopLeftovers } from "./leftovers.js";
import { readLogFiles } from "./logs.js";
import { proxyTargets, writeDiscovery } from "./proxies.js";
import { replaceChanged } from "./rollout.js";
import type { EdgeStats } from "./balancer.js";
import { type ServicePaths, listDir, logFile, removeSlotFiles, servicePaths } from "./run-dir.js";
import type { ProcessService } from "./service-handle.js";
import { type ServiceManifest, manifestOf, readManifest, writeManifest } from "./service-manifest.js";
import { prepareServiceDirectories } from "./service-dirs.js";
import type { SecretSource } from "./secret-source.js";
import { ServiceRuntime } from "./service-runtime.js";
import { stopPolicyOf } from "./stop-process.js";
import type { ServiceDiscoveryTarget } from "./service-discovery.js";
import type { RememberedPorts } from "./tcp-ports.js";
import { WorkQueue } from "./work-queue.js";

/** One service address's figures, for /metrics and the dashboard. */
export interface ServiceEdgeStats extends EdgeStats {
  serviceId: string;
  port: string;
}

export { ProcessService } from "./service-handle.js";

/** A process's launch spec, its secrets' variables and its pid while it runs (see launchSpecOf). */
export interface LaunchTarget {
  spec: LaunchSpec;
  pid: number | null;
  /** Variable name → the secret's value: never part of the spec. */
  secretEnv: Record<string, string>;
}

/** What a namespace needs from its orchestrator. */
export interface NamespaceContext {
  namespace: string;
  config: ResolvedProcessConfig;
  launcher: Launcher;
  /** The orchestrator's secrets, as its services read them. */
  secrets: SecretSource;
  /** TCP proxy ports of earlier instances, shared by every namespace of the state dir. */
  ports: RememberedPorts;
  /** Reserves a run directory for (namespace, id); throws when another service of another namespace maps to it. */
  claimRunDir(fullId: string, owner: { namespace: string; id: string }): void;
  releaseRunDir(fullId: string): void;
  onCrash?(event: ServiceEvent, namespace: string): void;
  assertOpen(): void;
}

export class NamespacedProcessOrchestrator implements NamespacedOrchestrator {
  private readonly services = new Map<string, ServiceRuntime>();
  private readonly queue = new WorkQueue();
  private readonly hub: EventHub<ServiceEvent>;
  private schedulingConfig: ServiceSchedulingConfig = {};

  constructor(private readonly ctx: NamespaceContext) {
    this.hub = new EventHub(ctx.config.watchBufferSize);
  }

  get namespace(): string {
    return this.ctx.namespace;
  }

  ensureService(id: string, config: ServiceConfig): Promise<ProcessService> {
    // Queued at once, before any await: a call made after this one (even an un-awaited
    // dropService) is applied after it. Everything is checked before anything is written.
    return this.inQueue(id, async () => {
      this.ctx.assertOpen();
      const specs = await ServiceSpecs.prepare({ ...this.ctx.config, namespace: this.namespace, secrets: this.ctx.secrets }, id, config);
      try {
        return (await this.apply(specs)).handle();
      } finally {
        await this.writeServiceDiscovery();
      }
    });
  }

  private async apply(specs: ServiceSpecs): Promise<ServiceRuntime> {
    const { id, config, paths } = specs;
    const previous = await this.claimRunDir(id, paths);
    await prepareServiceDirectories(specs, this.ctx.config.volumeDirectory);
    await writeManifest(paths.runDir, manifestOf(this.namespace, specs));
    let runtime = this.services.get(id);
    if (!runtime) {
      runtime = new ServiceRuntime(this.runtimeContext(), specs);
      this.services.set(id, runtime);
      // Processes of a larger earlier scale that no slot will adopt.
      await stopLeftovers(this.leftoverScope(paths), stopPolicyOf(config), previous?.scale ?? 0, (index) => index >= config.scale);
      await removeSlotFiles(paths, config.scale);
      await runtime.grow({ adopt: true });
      // An adopted process launched from another config is replaced like any changed process.
      await replaceChanged(runtime, this.ctx.config.rolloutTimeoutMs);
      return runtime;
    }
    runtime.update(specs);
    await runtime.shrink();
    await replaceChanged(runtime, this.ctx.config.rolloutTimeoutMs);
    await runtime.grow({ adopt: false });
    return runtime;
  }

  /** Claims the run directory for this service (no other service of any namespace may share it); returns its manifest. */
  private async claimRunDir(id: string, paths: ServicePaths): Promise<ServiceManifest | null> {
    this.ctx.claimRunDir(paths.fullId, { namespace: this.namespace, id });
    const manifest = await readManifest(paths.runDir);
    if (manifest && (manifest.namespace !== this.namespace || manifest.id !== id)) {
      throw new ValidationError(
        "service id",
        `run directory ${paths.runDir} belongs to service "${manifest.id}" of namespace "${manifest.namespace}"`,
        id,
      );
    }
    return manifest;
  }

  /**
   * Replaces every process of a service with a fresh one of the same config,
   * one at a time, highest index first, each online before the next: a
   * restart without downtime for services with more than one process.
   */
  async restartService(id: string): Promise<void> {
    return this.inQueue(id, () => replaceChanged(this.runtimeOf(id), this.ctx.config.rolloutTimeoutMs, { everyProcess: true }));
  }

  /** Replaces one process of a service with a fresh one of the same config, and waits until it is online (or failed). */
  async restartProcess(id: string, index: number): Promise<void> {
    return this.inQueue(id, () =>
      replaceChanged(this.runtimeOf(id), this.ctx.config.rolloutTimeoutMs, { everyProcess: true, only: index }),
    );
  }

  async dropService(id: string): Promise<void> {
    return this.inQueue(id, async () => {
      const paths = this.pathsOf(id);
      const runtime = this.services.get(id);
      this.services.delete(id);
      if (runtime) {
        await runtime.stop();
        await this.writeServiceDiscovery();
      }
      const manifest = await readManifest(paths.runDir);
      if (manifest && (manifest.namespace !== this.namespace || manifest.id !== id)) return; // another service's directory
      // Stopped as recorded by whoever launched them, else as configured now, else by default.
      const policy = stopPolicyOf(manifest ?? runtime?.config ?? SERVICE_DEFAULTS);
      await removeService(this.leftoverScope(paths), policy, {
        scale: Math.max(manifest?.scale ?? 0, runtime?.slots.length ?? 0),
        ports: manifest?.ports ?? runtime?.config.ports.map((p) => p.name) ?? [],
        scratchDir: runtime?.scratchDir ?? manifest?.scratchDirectory,
      });
      this.ctx.releaseRunDir(paths.fullId);
    });
  }

  async listServices(): Promise<string[]> {
    this.ctx.assertOpen();
    return this.queue.run(async () => {
      const ids = new Set(this.services.keys());
      const prefix = `${this.namespace}-`;
      const dirs = (await listDir(this.ctx.config.stateDir)).filter((name) => name.startsWith(prefix));
      await Promise.all(
        dirs.map(async (name) => {
          const manifest = await readManifest(this.pathsOf(name.slice(prefix.length)).runDir);
          if (manifest?.namespace === this.namespace) ids.add(manifest.id);
        }),
      );
      return [...ids].sort();
    });
  }

  watchServices(opts: { signal?: AbortSignal } = {}): AsyncIterableIterator<ServiceEvent> {
    this.ctx.assertOpen();
    return this.hub.subscribe(() => this.processStatuses().flatMap((s) => s.processes), opts.signal);
  }

  /** The services this instance supervises and the current status of each of their processes. */
  processStatuses(): { serviceId: string; processes: ServiceEvent[] }[] {
    return [...this.services.keys()].sort().map((serviceId) => ({ serviceId, processes: this.services.get(serviceId)!.statuses() }));
  }

  async fetchServiceMetrics(id: string): Promise<ServiceProcessMetrics[]> {
    // In the queue, so it sees every ensure and drop made before it.
    return this.inQueue(id, () => this.runtimeOf(id).metrics());
  }

  /** Output lines of one process: the last `tail` (all without it), then with `follow` every new one. */
  logs(id: string, processIndex: number, opts: LogOptions = {}): AsyncIterableIterator<LogLine> {
    this.ctx.assertOpen();
    validateId("service id", id);
    if (!Number.isInteger(processIndex) || processIndex < 0)
      throw new ValidationError("processIndex", "must be a non-negative integer", processIndex);
    if (opts.tail !== undefined && (!Number.isInteger(opts.tail) || opts.tail < 0))
      throw new ValidationError("tail", "must be a non-negative integer", opts.tail);
    const runtime = this.runtimeOf(id);
    const slot = runtime.slots[processIndex];
    if (!slot) throw new ValidationError("processIndex", `service "${id}" has ${runtime.slots.length} processes`, processIndex);
    return slot.log.read(opts);
  }

  /** Log lines of a process from its files alone (no follow), e.g. for a leftover service. */
  readLogFiles(id: string, processIndex: number, tail?: number): LogLine[] {
    validateId("service id", id);
    const { logDir, fullId } = this.pathsOf(id);
    return readLogFiles(logFile(logDir, fullId, processIndex), this.ctx.config.logRotation.files, tail);
  }

  /**
   * What process `index` of a service runs (its launch spec at the service's
   * scale, or at 1 for a service of scale 0) with its secrets' variables read
   * now, and its pid while it runs: what `corral run` and `corral exec` start a
   * command with. Not queued: a long rollout must not hold a one-off back.
   */
  async launchSpecOf(id: string, index: number): Promise<LaunchTarget> {
    const runtime = this.runtimeOf(id);
    const scale = Math.max(runtime.config.scale, 1);
    if (!Number.isInteger(index) || index < 0 || index >= scale)
      throw new ValidationError("process", `service "${id}" has ${runtime.config.scale} processes`, index);
    const spec = runtime.specs.at(scale)[index]!;
    const status = runtime.slots[index]?.supervisor.status;
    const alive = status !== undefined && (status.status === "online" || status.reason === "starting" || status.reason === "probe-failed");
    const secretEnv: Record<string, string> = {};
    const ids = [...new Set(Object.values(spec.secretEnv ?? {}))];
    const values = await this.ctx.secrets.read(ids);
    for (const [name, secret] of Object.entries(spec.secretEnv ?? {})) {
      const value = values.get(secret);
      if (value === null || value === undefined)
        throw new ValidationError(`env.${name}`, `secret "${secret}" is not set (corral secrets set ${secret})`);
      secretEnv[name] = new TextDecoder().decode(value);
    }
    return { spec, pid: alive ? (status.pid ?? null) : null, secretEnv };
  }

  /** Unix socket and TCP proxy addresses of each process of a service, per port. */
  addressesOf(id: string): { unix: Record<string, string>; tcp: Record<string, string> }[] {
    return this.services.get(id)?.addresses() ?? [];
  }

  /** What each service address (per service and port) has done. */
  edgeStats(): ServiceEdgeStats[] {
    return [...this.services.values()].flatMap((runtime) =>
      [...runtime.balancers].map(([port, balancer]) => ({ serviceId: runtime.id, port, ...balancer.stats })),
    );
  }

  /** The service addresses of a service, per port: its Unix socket (or directory) and, where exposed, its TCP address. */
  serviceAddressesOf(id: string): Record<string, { unix: string; tcp?: string }> {
    return Object.fromEntries(this.services.get(id)?.serviceAddresses() ?? []);
  }

  /** The services of this namespace whose config uses the volume. */
  servicesUsingVolume(name: string): string[] {
    return [...this.services.values()].filter((runtime) => runtime.config.volumes.includes(name)).map((runtime) => runtime.id);
  }

  /** Every process's TCP proxy address per port, with its service's labels: what Prometheus discovers. */
  proxyTargets(): ServiceDiscoveryTarget[] {
    return proxyTargets([...this.services.values()].map((r) => ({ id: r.id, slots: r.slots, labels: r.config.labels })));
  }

  updateSchedulingConfig(config: ServiceSchedulingConfig): void {
    // Placement across machines means nothing to local processes; kept so one control plane drives every backend.
    this.schedulingConfig = { ...config };
  }

  get scheduling(): ServiceSchedulingConfig {
    return { ...this.schedulingConfig };
  }

  /** Stops (or, with leaveRunning, lets go of) every process of the namespace. */
  async close(leaveRunning: boolean): Promise<void> {
    await this.queue.drain();
    await Promise.all([...this.services.values()].map((runtime) => runtime.stop({ leaveRunning })));
    this.services.clear();
    // Stopped processes listen nowhere; processes left running get new proxies from the next instance.
    await this.writeServiceDiscovery().catch(survive("process.namespace", "write service discovery", { namespace: this.namespace }));
    this.hub.close();
  }

  /** Checks the call (open orchestrator, valid id) at once, then queues `task` behind every earlier call. */
  private inQueue<T>(id: string, task: () => Promise<T>): Promise<T> {
    try {
      this.ctx.assertOpen();
      validateId("service id", id);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.queue.run(task);
  }

  private runtimeOf(id: string): ServiceRuntime {
    const runtime = this.services.get(id);
    if (!runtime) throw new UnknownServiceError(id);
    return runtime;
  }

  private pathsOf(id: string): ServicePaths {
    return servicePaths(this.ctx.config, this.namespace, id);
  }

  private runtimeContext() {
    const onCrash = this.ctx.onCrash?.bind(this.ctx);
    return {
      config: this.ctx.config,
      namespace: this.namespace,
      launcher: this.ctx.launcher,
      secrets: this.ctx.secrets,
      ports: this.ctx.ports,
      publish: (event: ServiceEvent) => this.hub.publish(event),
      ...(onCrash ? { onCrash: (event: ServiceEvent) => onCrash(event, this.namespace) } : {}),
    };
  }

  private leftoverScope(paths: ServicePaths) {
    return { launcher: this.ctx.launcher, environmentId: this.ctx.config.hostScope, paths };
  }

  private async writeServiceDiscovery(): Promise<void> {
    await writeDiscovery(this.ctx.config.tcpProxy, this.namespace, this.proxyTargets());
  }
}
