// One namespace of a ProcessOrchestrator: its services, their supervisors,
// and the queue that applies every call in order.
import { constants } from "node:fs";
import { access, mkdir, readdir, rm, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";
import { UnknownServiceError, ValidationError } from "../contract/errors.js";
import type { ServiceSchedulingConfig } from "../contract/scheduling.js";
import type {
  LogLine,
  LogOptions,
  NamespacedOrchestrator,
  RestartBackoff,
  Service,
  ServiceConfig,
  ServiceEvent,
  ServiceProcessMetrics,
} from "../contract/types.js";
import { type NormalizedServiceConfig, evaluateArgs, validateId, validateServiceConfig } from "../contract/validation.js";
import { type LaunchSpec, type StopPolicy, interpolate, specHash } from "./command.js";
import { EventHub } from "./event-hub.js";
import { readPidRecord } from "./identity.js";
import { CgroupMetricsSampler } from "./launch/cgroup-metrics.js";
import type { Launcher } from "./launch/types.js";
import { pidFilePath, recordedIndices, stopRecordedProcesses } from "./leftovers.js";
import { type LogRotation, ProcessLog, ensureFifos, readLogFiles } from "./logs.js";
import { ProcessMetricsSampler, directoryDiskBytes } from "./metrics.js";
import { readinessCheck } from "./readiness.js";
import { type ServiceDiscoveryTarget, writeServiceDiscoveryFile } from "./service-discovery.js";
import { TcpProxy } from "./tcp-proxy.js";
import { readManifest, writeManifest } from "./service-manifest.js";
import { listenAddresses } from "./sockets.js";
import { ProcessSupervisor } from "./supervisor.js";
import { WorkQueue } from "./work-queue.js";

/** What a namespace needs from its orchestrator. */
export interface NamespaceContext {
  namespace: string;
  environmentId: string;
  imageDir: string;
  stateDir: string;
  scratchRoot: string;
  logDir: string;
  logRotation: LogRotation;
  suppressOutput: boolean;
  commandWrapper: string[];
  launcher: Launcher;
  restartBackoff: Required<RestartBackoff>;
  adoptPollMs: number;
  rolloutTimeoutMs: number;
  watchBufferSize: number;
  /** One TCP listener per process and port forwarding to its Unix socket, when set. */
  tcpProxy?: { listenAddr: string; prometheusServiceDiscoveryDir?: string };
  /** Reserves a run directory for (namespace, id); throws when another service of another namespace maps to it. */
  claimRunDir(fullId: string, owner: { namespace: string; id: string }): void;
  releaseRunDir(fullId: string): void;
  onCrash?(event: ServiceEvent, namespace: string): void;
  assertOpen(): void;
}

/** One process slot: its supervisor (replaced by rolling changes) and what outlives it. */
interface Slot {
  supervisor: ProcessSupervisor;
  log: ProcessLog;
  procSampler: ProcessMetricsSampler;
  cgroupSampler: CgroupMetricsSampler;
  /** Port name → TCP proxy in front of the process's socket; kept across restarts so its address is stable. */
  proxies: Map<string, TcpProxy>;
}

interface ServiceRuntime {
  id: string;
  fullId: string;
  config: NormalizedServiceConfig;
  image: string;
  runDir: string;
  scratchDir?: string;
  slots: Slot[];
  warned: boolean;
}

/** The offline reasons that mean a new process failed rather than is still coming up. */
const FAILED = new Set(["crashed", "exited", "completed", "oom-killed", "spawn-failed", "backoff"]);

/** The handle ensureService returns. */
export class ProcessService implements Service {
  constructor(
    readonly id: string,
    private readonly ports: readonly string[],
    private readonly addressesByPort: ReadonlyMap<string, string[]>,
    private readonly tcpAddressesByPort: ReadonlyMap<string, string[]> | null,
  ) {}

  /** The Unix socket of each process for `port`, in process order. */
  addresses(port: string): string[] {
    return [...this.lookup(this.addressesByPort, port)];
  }

  /** The TCP proxy address ("host:port") of each process for `port`, in process order. */
  tcpAddresses(port: string): string[] {
    if (!this.tcpAddressesByPort) throw new ValidationError("tcpProxy", "is not enabled for this orchestrator: there are no TCP addresses");
    return [...this.lookup(this.tcpAddressesByPort, port)];
  }

  private lookup(map: ReadonlyMap<string, string[]>, port: string): string[] {
    const found = map.get(port);
    if (!found)
      throw new ValidationError(
        "port",
        `service "${this.id}" has no port named ${JSON.stringify(port)}; its ports are: ${this.ports.join(", ") || "(none)"}`,
      );
    return found;
  }
}

export class NamespacedProcessOrchestrator implements NamespacedOrchestrator {
  private readonly services = new Map<string, ServiceRuntime>();
  private readonly queue = new WorkQueue();
  private readonly hub: EventHub<ServiceEvent>;
  private schedulingConfig: ServiceSchedulingConfig = {};

  constructor(private readonly ctx: NamespaceContext) {
    this.hub = new EventHub(ctx.watchBufferSize);
  }

  get namespace(): string {
    return this.ctx.namespace;
  }

  ensureService(id: string, config: ServiceConfig): Promise<ProcessService> {
    try {
      this.ctx.assertOpen();
      validateId("service id", id);
    } catch (error) {
      return Promise.reject(error);
    }
    // Queued at once, before any await: a call made after this one (even an un-awaited
    // dropService) is applied after it. Everything is checked before anything is written.
    return this.queue.run(async () => {
      this.ctx.assertOpen();
      const normalized = validateServiceConfig(config);
      const image = await this.resolveImage(normalized.image);
      if (normalized.workingDirectory) await assertDirectory("workingDirectory", normalized.workingDirectory);
      const fullId = `${this.ctx.namespace}-${id}`;
      const runDir = join(this.ctx.stateDir, fullId);
      const scratchDir = normalized.disk ? join(this.ctx.scratchRoot, fullId) : undefined;
      // A throwing or malformed args function is refused here, before anything is written.
      const specs = this.launchSpecs(normalized, image, fullId, runDir, scratchDir, normalized.scale);
      try {
        await this.apply(
          { id, fullId, config: normalized, image, runDir, slots: [], warned: false, ...(scratchDir ? { scratchDir } : {}) },
          specs,
        );
      } finally {
        await this.writeServiceDiscovery();
      }
      return this.handle(this.services.get(id)!);
    });
  }

  private async resolveImage(image: string): Promise<string> {
    let path: string;
    if (isAbsolute(image)) path = normalize(image);
    else {
      path = normalize(join(this.ctx.imageDir, image));
      if (!path.startsWith(this.ctx.imageDir + sep))
        throw new ValidationError("image", "a relative image must name a file inside imageDir", image);
    }
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new Error("not a file");
      await access(path, constants.X_OK);
    } catch {
      throw new ValidationError("image", `must be an executable file; there is none at ${path}`, image);
    }
    return path;
  }

  private launchSpecs(
    config: NormalizedServiceConfig,
    image: string,
    fullId: string,
    runDir: string,
    scratchDir: string | undefined,
    scale: number,
  ): LaunchSpec[] {
    const peerAddrs = Array.from({ length: scale }, (_, i) => listenAddresses(runDir, config.ports, i));
    return peerAddrs.map((listenAddrs, processIndex) => {
      const args = evaluateArgs(config, {
        processIndex,
        listenAddrs: { ...listenAddrs },
        peerAddrs: peerAddrs.map((p) => ({ ...p })),
        ...(scratchDir ? { scratchDirectory: scratchDir } : {}),
      });
      const spec: LaunchSpec = {
        image,
        args,
        // Who the process is, as Kubernetes' downward API would tell it; also lets
        // an operator find every process of an environment in /proc/*/environ.
        env: {
          ...config.env,
          CORRAL_ENVIRONMENT_ID: this.ctx.environmentId,
          CORRAL_NAMESPACE: this.ctx.namespace,
          CORRAL_SERVICE_ID: fullId.slice(this.ctx.namespace.length + 1),
          CORRAL_PROCESS_INDEX: String(processIndex),
        },
        listenAddrs,
        wrapper: this.ctx.commandWrapper.map((part, i) => (i === 0 ? part : interpolate(part, fullId, listenAddrs))),
      };
      if (config.memoryLimit) spec.memoryLimit = config.memoryLimit.toString();
      if (config.cpuLimit) spec.cpuLimit = config.cpuLimit.toString();
      if (config.readiness) spec.readiness = JSON.stringify(config.readiness);
      if (config.workingDirectory) spec.workingDirectory = config.workingDirectory;
      if (scratchDir) spec.scratchDirectory = scratchDir;
      return spec;
    });
  }

  private async apply(desired: ServiceRuntime, specs: LaunchSpec[]): Promise<void> {
    const { id, fullId, config, runDir, scratchDir } = desired;
    const owner = { namespace: this.ctx.namespace, id };
    this.ctx.claimRunDir(fullId, owner);
    const manifest = await readManifest(runDir);
    if (manifest && (manifest.namespace !== owner.namespace || manifest.id !== owner.id)) {
      throw new ValidationError(
        "service id",
        `run directory ${runDir} belongs to service "${manifest.id}" of namespace "${manifest.namespace}"`,
        id,
      );
    }
    const runtime = this.services.get(id);
    const previousScale = runtime?.config.scale ?? manifest?.scale ?? config.scale;
    // What each kept process would run under the new config, had the scale not changed:
    // a scale change alone must not restart the processes that stay.
    const comparable =
      previousScale === config.scale ? specs : this.launchSpecs(config, desired.image, fullId, runDir, scratchDir, previousScale);

    await mkdir(runDir, { recursive: true });
    await mkdir(this.ctx.logDir, { recursive: true });
    if (scratchDir) await mkdir(scratchDir, { recursive: true });
    await writeManifest(runDir, {
      namespace: owner.namespace,
      id,
      scale: config.scale,
      image: desired.image,
      ports: config.ports.map((p) => p.name),
      labels: config.labels,
      stopSignal: config.stopSignal,
      terminationGracePeriodMs: config.terminationGracePeriodMs,
      ...(scratchDir ? { scratchDirectory: scratchDir } : {}),
      updatedAt: new Date().toISOString(),
    });

    if (!runtime) {
      this.services.set(id, desired);
      // Processes of a larger earlier scale that no slot will adopt.
      await this.stopLeftovers(desired, stopPolicyOf(config), manifest?.scale ?? 0, (index) => index >= config.scale);
      await this.removeSlotFiles(desired, config.scale);
      await this.addSlots(desired, 0, specs, true);
      // An adopted process launched from another config is replaced like any changed process.
      await this.roll(desired, specs, specs);
      return;
    }

    runtime.config = config;
    runtime.image = desired.image;
    if (scratchDir) runtime.scratchDir = scratchDir;
    for (const slot of runtime.slots) slot.supervisor.stopPolicy = stopPolicyOf(config);
    if (config.scale < runtime.slots.length) {
      const removed = runtime.slots.splice(config.scale);
      await Promise.all(removed.map((slot) => slot.supervisor.stop()));
      await this.closeProxies(removed);
      await this.removeSlotFiles(runtime, config.scale);
    }
    await this.roll(runtime, comparable, specs);
    await this.addSlots(runtime, runtime.slots.length, specs, false);
  }

  /** Adds slots `from`..`to`-1 and starts them; resolves once each has made its first launch attempt. */
  private async addSlots(runtime: ServiceRuntime, from: number, specs: LaunchSpec[], adopt: boolean): Promise<void> {
    const indices = specs.map((_, i) => i).slice(from);
    // One mkfifo for all new slots: a process spawn per pipe would dominate the start of hundreds of processes.
    ensureFifos(indices.flatMap((i) => Object.values(this.fifos(runtime, i))));
    await Promise.all(
      indices.map((i) => this.addSlot(runtime, i, specs[i]!, adopt ? readPidRecord(pidFilePath(runtime.runDir, i)) : null)),
    );
  }

  private fifos(runtime: ServiceRuntime, index: number): { stdout: string; stderr: string } {
    return { stdout: join(runtime.runDir, `${index}.stdout`), stderr: join(runtime.runDir, `${index}.stderr`) };
  }

  private async addSlot(runtime: ServiceRuntime, index: number, spec: LaunchSpec, record: ReturnType<typeof readPidRecord>): Promise<void> {
    const slot: Slot = {
      proxies: new Map(),
      supervisor: undefined as unknown as ProcessSupervisor,
      log: new ProcessLog({
        fifos: this.fifos(runtime, index),
        file: this.logFile(runtime.fullId, index),
        rotation: this.ctx.logRotation,
        ...(this.ctx.suppressOutput ? {} : { echoPrefix: `${runtime.fullId}-${index}` }),
      }),
      procSampler: new ProcessMetricsSampler(),
      cgroupSampler: new CgroupMetricsSampler(),
    };
    slot.supervisor = this.supervisor(runtime, index, spec, slot.log);
    runtime.slots[index] = slot;
    await this.syncProxies(runtime, slot, index, spec);
    await slot.supervisor.start(record);
  }

  /** Opens a TCP proxy for each port of the slot (closing those of ports that are gone), when the proxy is enabled. */
  private async syncProxies(runtime: ServiceRuntime, slot: Slot, index: number, spec: LaunchSpec): Promise<void> {
    const proxy = this.ctx.tcpProxy;
    if (!proxy) return;
    for (const [name, listener] of slot.proxies) {
      if (spec.listenAddrs[name] === listener.socketPath) continue;
      slot.proxies.delete(name);
      await listener.close();
    }
    for (const port of runtime.config.ports) {
      if (slot.proxies.has(port.name)) continue;
      const listener = await TcpProxy.listen({
        host: proxy.listenAddr,
        socketPath: spec.listenAddrs[port.name]!,
        name: `${runtime.fullId}-${index}-${port.name}`,
        // A hint names the port of process 0; process i asks for hint + i.
        ...(port.portHint !== undefined && port.portHint + index <= 65535 ? { portHint: port.portHint + index } : {}),
        onWarning: (message) => process.emitWarning(message, "CorralWarning"),
      });
      slot.proxies.set(port.name, listener);
    }
  }

  private async closeProxies(slots: Slot[]): Promise<void> {
    await Promise.all(slots.flatMap((slot) => [...slot.proxies.values()].map((p) => p.close())));
    for (const slot of slots) slot.proxies.clear();
  }

  /** Every process's TCP proxy address per port, with its service's labels: what Prometheus discovers. */
  proxyTargets(): ServiceDiscoveryTarget[] {
    const targets: ServiceDiscoveryTarget[] = [];
    for (const runtime of this.services.values()) {
      for (const [processIndex, slot] of runtime.slots.entries()) {
        for (const [port, proxy] of slot.proxies)
          targets.push({ serviceId: runtime.id, processIndex, port, address: proxy.address, labels: runtime.config.labels });
      }
    }
    return targets;
  }

  /** Rewrites `<dir>/<namespace>.json` with every process's proxy address (atomically; removed when empty). */
  private async writeServiceDiscovery(): Promise<void> {
    const dir = this.ctx.tcpProxy?.prometheusServiceDiscoveryDir;
    if (!dir) return;
    await writeServiceDiscoveryFile(dir, this.ctx.namespace, this.proxyTargets());
  }

  /**
   * Replaces every process of a service with a fresh one of the same config,
   * one at a time, highest index first, each online before the next: a
   * restart without downtime for services with more than one process.
   */
  async restartService(id: string): Promise<void> {
    this.ctx.assertOpen();
    validateId("service id", id);
    return this.queue.run(async () => {
      const runtime = this.services.get(id);
      if (!runtime) throw new UnknownServiceError(id);
      const specs = this.launchSpecs(
        runtime.config,
        runtime.image,
        runtime.fullId,
        runtime.runDir,
        runtime.scratchDir,
        runtime.slots.length,
      );
      await this.roll(runtime, specs, specs, { everyProcess: true });
    });
  }

  /** The services this instance supervises and the current status of each of their processes. */
  processStatuses(): { serviceId: string; processes: ServiceEvent[] }[] {
    return [...this.services.keys()]
      .sort()
      .map((serviceId) => ({ serviceId, processes: this.services.get(serviceId)!.slots.map((slot) => ({ ...slot.supervisor.status })) }));
  }

  /** Unix socket and TCP proxy addresses of each process of a service, per port. */
  addressesOf(id: string): { unix: Record<string, string>; tcp: Record<string, string> }[] {
    const runtime = this.services.get(id);
    if (!runtime) return [];
    return runtime.slots.map((slot, i) => ({
      unix: listenAddresses(runtime.runDir, runtime.config.ports, i),
      tcp: Object.fromEntries([...slot.proxies].map(([port, proxy]) => [port, proxy.address])),
    }));
  }

  private logFile(fullId: string, index: number): string {
    return join(this.ctx.logDir, `${fullId}-${index}.log`);
  }

  /**
   * Stops processes recorded in PID files that no slot owns (identity-checked),
   * then kills and removes their cgroups, of the recorded indices and of every
   * index below `knownScale`, that pass `filter`.
   */
  private async stopLeftovers(
    runtime: Pick<ServiceRuntime, "fullId" | "runDir">,
    policy: StopPolicy,
    knownScale: number,
    filter: (index: number) => boolean,
  ): Promise<void> {
    await stopRecordedProcesses(runtime.runDir, policy, filter);
    const indices = new Set([...(await recordedIndices(runtime.runDir)), ...Array.from({ length: knownScale }, (_, i) => i)]);
    await Promise.all(
      [...indices].filter(filter).map(async (processIndex) => {
        const group = await this.ctx.launcher
          .reopen({ environmentId: this.ctx.environmentId, fullId: runtime.fullId, processIndex })
          .catch(() => null);
        if (!group) return;
        await group.kill().catch(() => {});
        await group.remove().catch(() => {});
      }),
    );
  }

  /** Files of slots at or above `from` (after a scale-down, or left by a larger earlier scale). */
  private async removeSlotFiles(runtime: Pick<ServiceRuntime, "fullId" | "runDir">, from: number): Promise<void> {
    const prefix = `${runtime.fullId}-`;
    let logs: string[] = [];
    try {
      logs = await readdir(this.ctx.logDir);
    } catch {}
    for (const name of logs) {
      const match = /^(\d+)\.log(\.\d+)?$/.exec(name.startsWith(prefix) ? name.slice(prefix.length) : "");
      if (match && Number(match[1]) >= from) await rm(join(this.ctx.logDir, name), { force: true });
    }
    let entries: string[] = [];
    try {
      entries = await readdir(runtime.runDir);
    } catch {}
    for (const name of entries) {
      const match = /^(\d+)\.(stdout|stderr)$/.exec(name);
      if (match && Number(match[1]) >= from) await rm(join(runtime.runDir, name), { force: true });
    }
  }

  /**
   * Replaces, one at a time and highest index first, every process whose spec
   * differs from the desired one; each replacement must come online (ready,
   * where there is a probe) before the next is touched, so a bad change takes
   * down at most one process. A replacement that fails or is not online within
   * the rollout timeout stops the roll; the processes not yet replaced keep running.
   */
  private async roll(
    runtime: ServiceRuntime,
    comparable: LaunchSpec[],
    desired: LaunchSpec[],
    { everyProcess = false } = {},
  ): Promise<void> {
    for (let i = runtime.slots.length - 1; i >= 0; i--) {
      const slot = runtime.slots[i]!;
      const runningHash = slot.supervisor.runningSpecHash ?? slot.supervisor.desiredSpecHash;
      if (!everyProcess && runningHash === specHash(comparable[i]!)) continue;
      await slot.supervisor.stop();
      slot.supervisor = this.supervisor(runtime, i, desired[i]!, slot.log);
      await this.syncProxies(runtime, slot, i, desired[i]!);
      await slot.supervisor.start(null);
      let outcome: ServiceEvent;
      try {
        outcome = await slot.supervisor.waitFor((e) => e.status === "online" || FAILED.has(e.reason ?? ""), this.ctx.rolloutTimeoutMs);
      } catch (error) {
        throw new Error(
          `rolling change of service "${runtime.id}" stopped at process ${i}: not online: ${(error as Error).message}${i > 0 ? `; processes 0..${i - 1} still run the previous config` : ""}`,
        );
      }
      if (outcome.status !== "online") {
        throw new Error(
          `rolling change of service "${runtime.id}" stopped at process ${i}: ${outcome.reason}${outcome.message ? ` (${outcome.message})` : ""}${i > 0 ? `; processes 0..${i - 1} still run the previous config` : ""}`,
        );
      }
    }
  }

  private supervisor(runtime: ServiceRuntime, processIndex: number, spec: LaunchSpec, log: ProcessLog): ProcessSupervisor {
    const { config } = runtime;
    const onCrash = this.ctx.onCrash?.bind(this.ctx);
    return new ProcessSupervisor({
      environmentId: this.ctx.environmentId,
      fullId: runtime.fullId,
      serviceId: runtime.id,
      processIndex,
      pidFile: pidFilePath(runtime.runDir, processIndex),
      spec,
      specHash: specHash(spec),
      limits: {
        ...(config.memoryLimit ? { memoryLimit: config.memoryLimit } : {}),
        ...(config.cpuLimit ? { cpuLimit: config.cpuLimit } : {}),
      },
      stopPolicy: stopPolicyOf(config),
      restartPolicy: config.restartPolicy,
      backoff: { ...this.ctx.restartBackoff, ...config.restartBackoff },
      ...(config.readiness ? { readiness: readinessCheck(config.readiness, spec.listenAddrs, spec.env) } : {}),
      launcher: this.ctx.launcher,
      log,
      socketPaths: Object.values(spec.listenAddrs),
      adoptPollMs: this.ctx.adoptPollMs,
      onEvent: (event) => this.hub.publish(event),
      onWarning: (warning) => {
        if (runtime.warned) return;
        runtime.warned = true;
        const current = runtime.slots[processIndex]?.supervisor.status;
        this.hub.publish({
          ...(current ?? { serviceId: runtime.id, processId: processIndex, status: "offline", restartCount: 0 }),
          time: new Date(),
          warning,
        });
      },
      ...(onCrash ? { onCrash: (event: ServiceEvent) => onCrash(event, this.ctx.namespace) } : {}),
    });
  }

  private handle(runtime: ServiceRuntime): ProcessService {
    const { config, runDir } = runtime;
    const byPort = new Map<string, string[]>();
    const tcpByPort = this.ctx.tcpProxy ? new Map<string, string[]>() : null;
    for (const port of config.ports) {
      byPort.set(
        port.name,
        Array.from({ length: config.scale }, (_, i) => listenAddresses(runDir, [port], i)[port.name]!),
      );
      tcpByPort?.set(
        port.name,
        runtime.slots.map((slot) => slot.proxies.get(port.name)!.address),
      );
    }
    return new ProcessService(
      runtime.id,
      config.ports.map((p) => p.name),
      byPort,
      tcpByPort,
    );
  }

  async dropService(id: string): Promise<void> {
    this.ctx.assertOpen();
    validateId("service id", id);
    return this.queue.run(async () => {
      const fullId = `${this.ctx.namespace}-${id}`;
      const runDir = join(this.ctx.stateDir, fullId);
      const runtime = this.services.get(id);
      this.services.delete(id);
      if (runtime) {
        await Promise.all(runtime.slots.map((slot) => slot.supervisor.stop()));
        await this.closeProxies(runtime.slots);
        await this.writeServiceDiscovery();
      }
      const manifest = await readManifest(runDir);
      if (manifest && (manifest.namespace !== this.ctx.namespace || manifest.id !== id)) return; // another service's directory
      const policy = manifest
        ? { signal: manifest.stopSignal, graceMs: manifest.terminationGracePeriodMs }
        : runtime
          ? stopPolicyOf(runtime.config)
          : { signal: "SIGTERM" as const, graceMs: 10_000 };
      const scale = Math.max(manifest?.scale ?? 0, runtime?.config.scale ?? 0);
      await this.stopLeftovers({ fullId, runDir }, policy, scale, () => true);
      // Sockets of processes no supervisor of ours owned (leftovers), hashed ones included.
      const ports = manifest?.ports ?? runtime?.config.ports.map((p) => p.name) ?? [];
      for (let i = 0; i < scale; i++) {
        for (const path of Object.values(
          listenAddresses(
            runDir,
            ports.map((name) => ({ name })),
            i,
          ),
        ))
          await rm(path, { force: true });
      }
      await this.removeSlotFiles({ fullId, runDir }, 0);
      const scratch = runtime?.scratchDir ?? manifest?.scratchDirectory;
      await rm(runDir, { recursive: true, force: true });
      if (scratch) await rm(scratch, { recursive: true, force: true });
      this.ctx.releaseRunDir(fullId);
    });
  }

  async listServices(): Promise<string[]> {
    this.ctx.assertOpen();
    return this.queue.run(async () => {
      const ids = new Set(this.services.keys());
      let entries: string[] = [];
      try {
        entries = await readdir(this.ctx.stateDir);
      } catch {}
      const prefix = `${this.ctx.namespace}-`;
      await Promise.all(
        entries
          .filter((name) => name.startsWith(prefix))
          .map(async (name) => {
            const manifest = await readManifest(join(this.ctx.stateDir, name));
            if (manifest?.namespace === this.ctx.namespace) ids.add(manifest.id);
          }),
      );
      return [...ids].sort();
    });
  }

  watchServices(opts: { signal?: AbortSignal } = {}): AsyncIterableIterator<ServiceEvent> {
    this.ctx.assertOpen();
    return this.hub.subscribe(() => this.snapshot(), opts.signal);
  }

  private snapshot(): ServiceEvent[] {
    const events: ServiceEvent[] = [];
    for (const id of [...this.services.keys()].sort()) {
      for (const slot of this.services.get(id)!.slots) events.push({ ...slot.supervisor.status });
    }
    return events;
  }

  async fetchServiceMetrics(id: string): Promise<ServiceProcessMetrics[]> {
    this.ctx.assertOpen();
    validateId("service id", id);
    // In the queue, so it sees every ensure and drop made before it.
    return this.queue.run(() => this.measure(id));
  }

  private async measure(id: string): Promise<ServiceProcessMetrics[]> {
    const runtime = this.services.get(id);
    if (!runtime) throw new UnknownServiceError(id);
    const [diskBytes, perProcess] = await Promise.all([
      runtime.scratchDir ? directoryDiskBytes(runtime.scratchDir) : null,
      Promise.all(
        runtime.slots.map(async (slot) => {
          // The whole cgroup where the process has one (children included), else its tree from /proc.
          const group = slot.supervisor.processCgroup;
          if (group) {
            const metrics = await slot.cgroupSampler.read(group).catch(() => null);
            if (metrics && metrics.memoryBytes !== null) return metrics;
          }
          return slot.procSampler.sample(slot.supervisor.pid);
        }),
      ),
    ]);
    return perProcess.map((m) => ({ ...m, diskBytes }));
  }

  /** Output lines of one process: the last `tail` (all without it), then with `follow` every new one. */
  logs(id: string, processIndex: number, opts: LogOptions = {}): AsyncIterableIterator<LogLine> {
    this.ctx.assertOpen();
    validateId("service id", id);
    if (!Number.isInteger(processIndex) || processIndex < 0)
      throw new ValidationError("processIndex", "must be a non-negative integer", processIndex);
    if (opts.tail !== undefined && (!Number.isInteger(opts.tail) || opts.tail < 0))
      throw new ValidationError("tail", "must be a non-negative integer", opts.tail);
    const runtime = this.services.get(id);
    if (!runtime) throw new UnknownServiceError(id);
    const slot = runtime.slots[processIndex];
    if (!slot) throw new ValidationError("processIndex", `service "${id}" has ${runtime.slots.length} processes`, processIndex);
    return slot.log.read(opts);
  }

  /** Log lines of a process from its files alone (no follow), e.g. for a leftover service. */
  readLogFiles(id: string, processIndex: number, tail?: number): LogLine[] {
    validateId("service id", id);
    return readLogFiles(this.logFile(`${this.ctx.namespace}-${id}`, processIndex), this.ctx.logRotation.files, tail);
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
    const slots = [...this.services.values()].flatMap((r) => r.slots);
    if (leaveRunning) slots.forEach((s) => s.supervisor.detach());
    else await Promise.all(slots.map((s) => s.supervisor.stop()));
    await this.closeProxies(slots);
    this.services.clear();
    // Stopped processes listen nowhere; processes left running get new proxies from the next instance.
    await this.writeServiceDiscovery().catch(() => {});
    this.hub.close();
  }
}

function stopPolicyOf(config: NormalizedServiceConfig): StopPolicy {
  return { signal: config.stopSignal, graceMs: config.terminationGracePeriodMs };
}

async function assertDirectory(field: string, path: string): Promise<void> {
  try {
    if ((await stat(path)).isDirectory()) return;
  } catch {}
  throw new ValidationError(field, "must be an existing directory", path);
}
