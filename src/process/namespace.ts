// One namespace of a ProcessOrchestrator: its services, their supervisors,
// and the queue that applies every call in order.
import { constants } from "node:fs";
import { access, mkdir, readdir, rm, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";
import { UnknownServiceError, ValidationError } from "../contract/errors.js";
import type { ServiceSchedulingConfig } from "../contract/scheduling.js";
import type { NamespacedOrchestrator, Service, ServiceConfig, ServiceEvent, ServiceProcessMetrics } from "../contract/types.js";
import { type NormalizedServiceConfig, evaluateArgs, validateId, validateServiceConfig } from "../contract/validation.js";
import { type LaunchSpec, type StopPolicy, interpolate, specHash } from "./command.js";
import { EventHub } from "./event-hub.js";
import { readPidRecord } from "./identity.js";
import { pidFilePath, stopRecordedProcesses } from "./leftovers.js";
import { ProcessMetricsSampler, directoryDiskBytes } from "./metrics.js";
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
  suppressOutput: boolean;
  commandWrapper: string[];
  restartDelayMs: number;
  adoptPollMs: number;
  watchBufferSize: number;
  /** Reserves a run directory for (namespace, id); throws when another service of another namespace maps to it. */
  claimRunDir(fullId: string, owner: { namespace: string; id: string }): void;
  releaseRunDir(fullId: string): void;
  onCrash?(event: ServiceEvent, namespace: string): void;
  assertOpen(): void;
}

interface ServiceRuntime {
  id: string;
  config: NormalizedServiceConfig;
  image: string;
  runDir: string;
  scratchDir?: string;
  supervisors: ProcessSupervisor[];
  samplers: ProcessMetricsSampler[];
}

/** The handle ensureService returns. */
export class ProcessService implements Service {
  constructor(
    readonly id: string,
    private readonly ports: readonly string[],
    private readonly addressesByPort: ReadonlyMap<string, string[]>,
  ) {}

  addresses(port: string): string[] {
    const addresses = this.addressesByPort.get(port);
    if (!addresses) {
      throw new ValidationError("port", `service "${this.id}" has no port named ${JSON.stringify(port)}; its ports are: ${this.ports.join(", ") || "(none)"}`);
    }
    return [...addresses];
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

  async ensureService(id: string, config: ServiceConfig): Promise<ProcessService> {
    this.ctx.assertOpen();
    validateId("service id", id);
    const normalized = validateServiceConfig(config);
    const image = await this.resolveImage(normalized.image);
    const fullId = `${this.ctx.namespace}-${id}`;
    const runDir = join(this.ctx.stateDir, fullId);
    const scratchDir = normalized.disk ? join(this.ctx.scratchRoot, fullId) : undefined;
    // Evaluated now so a throwing or malformed args function is refused before anything is written.
    const specs = this.launchSpecs(normalized, image, runDir, scratchDir, normalized.scale);
    return this.queue.run(async () => {
      this.ctx.assertOpen();
      await this.apply(id, normalized, image, runDir, scratchDir, specs);
      return this.handle(id, normalized, runDir);
    });
  }

  private async resolveImage(image: string): Promise<string> {
    let path: string;
    if (isAbsolute(image)) path = normalize(image);
    else {
      path = normalize(join(this.ctx.imageDir, image));
      if (!path.startsWith(this.ctx.imageDir + sep)) throw new ValidationError("image", "a relative image must name a file inside imageDir", image);
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

  private launchSpecs(config: NormalizedServiceConfig, image: string, runDir: string, scratchDir: string | undefined, scale: number): LaunchSpec[] {
    const fullId = runDirName(runDir);
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
      if (scratchDir) spec.scratchDirectory = scratchDir;
      return spec;
    });
  }

  private async apply(id: string, config: NormalizedServiceConfig, image: string, runDir: string, scratchDir: string | undefined, specs: LaunchSpec[]): Promise<void> {
    const fullId = `${this.ctx.namespace}-${id}`;
    const owner = { namespace: this.ctx.namespace, id };
    this.ctx.claimRunDir(fullId, owner);
    const manifest = await readManifest(runDir);
    if (manifest && (manifest.namespace !== owner.namespace || manifest.id !== owner.id)) {
      throw new ValidationError("service id", `run directory ${runDir} belongs to service "${manifest.id}" of namespace "${manifest.namespace}"`, id);
    }
    const runtime = this.services.get(id);
    const previousScale = runtime?.config.scale ?? manifest?.scale ?? config.scale;
    // What each kept process would run under the new config, had the scale not changed:
    // a scale change alone must not restart the processes that stay.
    const comparable = previousScale === config.scale ? specs : this.launchSpecs(config, image, runDir, scratchDir, previousScale);

    await mkdir(runDir, { recursive: true });
    if (scratchDir) await mkdir(scratchDir, { recursive: true });
    await writeManifest(runDir, {
      namespace: owner.namespace,
      id,
      scale: config.scale,
      image,
      ports: config.ports.map((p) => p.name),
      labels: config.labels,
      stopSignal: config.stopSignal,
      terminationGracePeriodMs: config.terminationGracePeriodMs,
      ...(scratchDir ? { scratchDirectory: scratchDir } : {}),
      updatedAt: new Date().toISOString(),
    });
    const stopPolicy = stopPolicyOf(config);

    if (!runtime) {
      const created: ServiceRuntime = { id, config, image, runDir, supervisors: [], samplers: [], ...(scratchDir ? { scratchDir } : {}) };
      this.services.set(id, created);
      // Processes of a larger earlier scale that no slot will adopt.
      await stopRecordedProcesses(runDir, stopPolicy, (index) => index >= config.scale);
      const outcomes = specs.map((spec, i) => {
        const supervisor = this.supervisor(created, i, spec, stopPolicy);
        created.supervisors.push(supervisor);
        created.samplers.push(new ProcessMetricsSampler());
        return supervisor.start(readPidRecord(pidFilePath(runDir, i)));
      });
      await Promise.all(outcomes);
      // An adopted process launched from another config is replaced like any changed process.
      await this.roll(created, specs, specs, stopPolicy);
      return;
    }

    runtime.config = config;
    runtime.image = image;
    if (scratchDir) runtime.scratchDir = scratchDir;
    for (const supervisor of runtime.supervisors) supervisor.stopPolicy = stopPolicy;
    if (config.scale < runtime.supervisors.length) {
      const removed = runtime.supervisors.splice(config.scale);
      runtime.samplers.splice(config.scale);
      await Promise.all(removed.map((s) => s.stop()));
    }
    await this.roll(runtime, comparable, specs, stopPolicy);
    const outcomes: Promise<ServiceEvent>[] = [];
    for (let i = runtime.supervisors.length; i < config.scale; i++) {
      const supervisor = this.supervisor(runtime, i, specs[i]!, stopPolicy);
      runtime.supervisors.push(supervisor);
      runtime.samplers.push(new ProcessMetricsSampler());
      outcomes.push(supervisor.start(null));
    }
    await Promise.all(outcomes);
  }

  /**
   * Replaces, one at a time and highest index first, every process whose spec
   * differs from the desired one; each replacement must come online before the
   * next is touched, so a bad change takes down at most one process.
   */
  private async roll(runtime: ServiceRuntime, comparable: LaunchSpec[], desired: LaunchSpec[], stopPolicy: StopPolicy): Promise<void> {
    for (let i = runtime.supervisors.length - 1; i >= 0; i--) {
      const current = runtime.supervisors[i]!;
      const runningHash = current.runningSpecHash ?? current.desiredSpecHash;
      if (runningHash === specHash(comparable[i]!)) continue;
      await current.stop();
      const replacement = this.supervisor(runtime, i, desired[i]!, stopPolicy);
      runtime.supervisors[i] = replacement;
      runtime.samplers[i] = new ProcessMetricsSampler();
      const outcome = await replacement.start(null);
      if (outcome.status !== "online") {
        throw new Error(
          `rolling change of service "${runtime.id}" stopped at process ${i}: ${outcome.reason}${outcome.message ? ` (${outcome.message})` : ""}; processes 0..${i - 1} still run the previous config`,
        );
      }
    }
  }

  private supervisor(runtime: ServiceRuntime, processIndex: number, spec: LaunchSpec, stopPolicy: StopPolicy): ProcessSupervisor {
    const onCrash = this.ctx.onCrash;
    return new ProcessSupervisor({
      serviceId: runtime.id,
      processIndex,
      name: `${this.ctx.namespace}-${runtime.id}-${processIndex}`,
      pidFile: pidFilePath(runtime.runDir, processIndex),
      spec,
      specHash: specHash(spec),
      stopPolicy,
      socketPaths: Object.values(spec.listenAddrs),
      suppressOutput: this.ctx.suppressOutput,
      restartDelayMs: this.ctx.restartDelayMs,
      adoptPollMs: this.ctx.adoptPollMs,
      onEvent: (event) => this.hub.publish(event),
      ...(onCrash ? { onCrash: (event: ServiceEvent) => onCrash(event, this.ctx.namespace) } : {}),
    });
  }

  private handle(id: string, config: NormalizedServiceConfig, runDir: string): ProcessService {
    const byPort = new Map<string, string[]>();
    for (const port of config.ports) {
      byPort.set(
        port.name,
        Array.from({ length: config.scale }, (_, i) => listenAddresses(runDir, [port], i)[port.name]!),
      );
    }
    return new ProcessService(id, config.ports.map((p) => p.name), byPort);
  }

  async dropService(id: string): Promise<void> {
    this.ctx.assertOpen();
    validateId("service id", id);
    return this.queue.run(async () => {
      const fullId = `${this.ctx.namespace}-${id}`;
      const runDir = join(this.ctx.stateDir, fullId);
      const runtime = this.services.get(id);
      this.services.delete(id);
      if (runtime) await Promise.all(runtime.supervisors.map((s) => s.stop()));
      const manifest = await readManifest(runDir);
      if (manifest && (manifest.namespace !== this.ctx.namespace || manifest.id !== id)) return; // another service's directory
      const policy = manifest
        ? { signal: manifest.stopSignal, graceMs: manifest.terminationGracePeriodMs }
        : runtime
          ? stopPolicyOf(runtime.config)
          : { signal: "SIGTERM" as const, graceMs: 10_000 };
      await stopRecordedProcesses(runDir, policy);
      // Sockets of processes no supervisor of ours owned (leftovers), hashed ones included.
      const ports = manifest?.ports ?? runtime?.config.ports.map((p) => p.name) ?? [];
      const scale = Math.max(manifest?.scale ?? 0, runtime?.config.scale ?? 0);
      for (let i = 0; i < scale; i++) {
        for (const path of Object.values(listenAddresses(runDir, ports.map((name) => ({ name })), i))) await rm(path, { force: true });
      }
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
      for (const supervisor of this.services.get(id)!.supervisors) events.push({ ...supervisor.status });
    }
    return events;
  }

  async fetchServiceMetrics(id: string): Promise<ServiceProcessMetrics[]> {
    this.ctx.assertOpen();
    validateId("service id", id);
    const runtime = this.services.get(id);
    if (!runtime) throw new UnknownServiceError(id);
    const diskBytes = runtime.scratchDir ? await directoryDiskBytes(runtime.scratchDir) : null;
    return runtime.supervisors.map((supervisor, i) => ({ ...runtime.samplers[i]!.sample(supervisor.pid), diskBytes }));
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
    const supervisors = [...this.services.values()].flatMap((r) => r.supervisors);
    if (leaveRunning) supervisors.forEach((s) => s.detach());
    else await Promise.all(supervisors.map((s) => s.stop()));
    this.services.clear();
    this.hub.close();
  }
}

function stopPolicyOf(config: NormalizedServiceConfig): StopPolicy {
  return { signal: config.stopSignal, graceMs: config.terminationGracePeriodMs };
}

/** `<namespace>-<id>`, the run directory's own name. */
function runDirName(runDir: string): string {
  return runDir.slice(runDir.lastIndexOf(sep) + 1);
}
