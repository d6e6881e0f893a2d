// The live state of one service in a namespace: its config (as launch specs),
// its slots (their number is the service's current scale), and how each slot's
// supervisor is built from the config.
import type { ServiceEvent, ServiceProcessMetrics } from "../contract/types.js";
import { SERVICE_DEFAULTS } from "../contract/defaults.js";
import type { NormalizedServiceConfig } from "../contract/validation.js";
import { type ResolvedProcessConfig, withDefaults } from "./config.js";
import { readPidRecord, type PidRecord } from "./identity.js";
import type { Launcher } from "./launch/types.js";
import type { ServiceSpecs } from "./launch-spec.js";
import { ProcessLog, ensureFifosInBackground } from "./logs.js";
import { directoryDiskBytes } from "./metrics.js";
import { type PortMemory, closeProxies, hasProcessProxy, serviceTcpListener, syncProxies } from "./proxies.js";
import { type BalancerBackend, ServiceBalancer } from "./balancer.js";
import { PROCESS_ORCHESTRATOR_DEFAULTS } from "../contract/defaults.js";
import type { ServicePort } from "../contract/types.js";
import { reportSurvivable, survive } from "../util/diagnostics.js";
import { type HealthChecks, healthChecks } from "./health.js";
import {
  type ServicePaths,
  ensureRecordFiles,
  fifoFiles,
  listenAddresses,
  logFile,
  pidFile,
  removeSlotFiles,
  serviceSocket,
  socketDirectories,
} from "./run-dir.js";
import { SecretDelivery, usesSecrets } from "./secret-delivery.js";
import type { SecretSource } from "./secret-source.js";
import { ProcessService } from "./service-handle.js";
import { Slot } from "./slot.js";
import { stopPolicyOf } from "./stop-process.js";
import { ProcessSupervisor } from "./supervisor.js";
import type { RememberedPorts } from "./tcp-ports.js";
import { resolveServiceUser } from "./users.js";
import { mapInSlices } from "../util/slices.js";
import { eachLimited } from "../util/each-limited.js";

/** Processes measured per turn of the event loop: their /proc and cgroupfs reads are synchronous (~20 µs a file). */
const METRICS_SLICE = 50;

/**
 * First launches of a growing service in flight at once. All 500 of a start at
 * once kept every launch's objects alive across the whole start, so V8 grew its
 * young generation to 32 MiB: 16 at a time keeps libuv's 4 pool threads busy
 * and leaves the host ~9 MiB smaller after a start of 500, in the same time.
 */
const LAUNCHES_IN_FLIGHT = 16;

/** What every service of a namespace shares. */
export interface RuntimeContext {
  config: ResolvedProcessConfig;
  namespace: string;
  launcher: Launcher;
  /** Where the services' secrets are read at each launch. */
  secrets: SecretSource;
  /** The TCP proxy ports of earlier instances. */
  ports: RememberedPorts;
  publish(event: ServiceEvent): void;
  /** Set when crashes propagate: called instead of relaunching a crashed process. */
  onCrash?(event: ServiceEvent): void;
}

export class ServiceRuntime {
  readonly slots: Slot[] = [];
  /** The slots a grow() has yet to add: each shows as "offline, starting" until its own supervisor does. */
  #toAdd: { indices: readonly number[]; since: Date } | null = null;
  /** Port name → the service address: balances new connections over the ready processes. */
  readonly balancers = new Map<string, ServiceBalancer>();
  /** Slots above the scale that are still in their stop grace period: `ps` shows them as stopping until they are gone. */
  readonly #retiring = new Set<Slot>();
  /** Warnings (e.g. limits the launcher cannot enforce) are said once per service. */
  #warned = false;
  #scratchDir: string | undefined;

  constructor(
    private readonly ctx: RuntimeContext,
    /** The desired config; its scale is what grow() and shrink() move the slots to. */
    public specs: ServiceSpecs,
  ) {
    this.#scratchDir = specs.paths.scratchDir;
  }

  get id(): string {
    return this.specs.id;
  }

  get config(): NormalizedServiceConfig {
    return this.specs.config;
  }

  get paths(): ServicePaths {
    return this.specs.paths;
  }

  /** The scratch directory, kept once made even when a later config turns `disk` off: it is removed with the service. */
  get scratchDir(): string | undefined {
    return this.#scratchDir;
  }

  /** Takes a new desired config. How processes stop applies at once; what they run changes only by replace(). */
  update(specs: ServiceSpecs): void {
    this.specs = specs;
    this.#scratchDir = specs.paths.scratchDir ?? this.#scratchDir;
    for (const slot of this.slots) slot.supervisor.stopPolicy = stopPolicyOf(specs.config);
  }

  /**
   * Adds and starts the slots up to the desired scale; with `adopt`, each takes
   * over the process its PID file names when that one is still alive. Resolves
   * once each new slot has made its first launch attempt.
   */
  async grow({ adopt }: { adopt: boolean }): Promise<void> {
    await this.syncBalancers();
    const indices = Array.from({ length: Math.max(0, this.config.scale - this.slots.length) }, (_, i) => this.slots.length + i);
    const { runDir } = this.paths;
    // Slots are added in index order as their launches begin; the ones still to come are listed meanwhile.
    this.#toAdd = { indices, since: new Date() };
    // One mkfifo for all new slots (a process spawn per pipe would dominate the start of hundreds
    // of processes), and their record files made beside it, before any launch needs them.
    try {
      await Promise.all([
        ensureFifosInBackground(indices.flatMap((i) => Object.values(fifoFiles(runDir, i)))),
        ensureRecordFiles(indices.map((i) => pidFile(runDir, i))),
      ]);
      await eachLimited(indices, LAUNCHES_IN_FLIGHT, (i) => this.#addSlot(i, adopt ? readPidRecord(pidFile(runDir, i)) : null));
    } finally {
      this.#toAdd = null;
    }
  }

  /** Stops the slots above the desired scale and removes their files. */
  async shrink(): Promise<void> {
    const { scale } = this.config;
    if (scale >= this.slots.length) return;
    const removed = this.slots.splice(scale);
    for (const slot of removed) this.#retiring.add(slot);
    const indices = removed.map((_, i) => scale + i);
    try {
      await this.#drain(scale, removed);
      await Promise.all(removed.map((slot) => slot.supervisor.stop()));
    } finally {
      for (const slot of removed) this.#retiring.delete(slot);
      this.#restore(indices);
    }
    await closeProxies(removed);
    await removeSlotFiles(this.paths, scale);
  }

  /** Stops the process of slot `index` and starts one of the desired config in its place; returns its supervisor. */
  async replace(index: number): Promise<ProcessSupervisor> {
    const slot = this.slots[index]!;
    try {
      await this.#drain(index, [slot]);
      await slot.supervisor.stop();
      slot.supervisor = this.#supervisor(index, slot.log);
    } finally {
      // Back in rotation, where the new process is taken once it is ready.
      this.#restore([index]);
    }
    await syncProxies(this.ctx.config.tcpProxy, slot, this.#endpoints(index), this.#portMemory());
    await slot.supervisor.start(null);
    return slot.supervisor;
  }

  /** Stops every process, or with `leaveRunning` lets go of them for a later instance to adopt. */
  async stop({ leaveRunning = false } = {}): Promise<void> {
    if (leaveRunning) for (const slot of this.slots) slot.supervisor.detach();
    else {
      await this.#drain(0, this.slots);
      await Promise.all(this.slots.map((slot) => slot.supervisor.stop()));
    }
    await closeProxies(this.slots);
    await Promise.all([...this.balancers.values()].map((balancer) => balancer.close()));
    this.balancers.clear();
  }

  /**
   * Opens the service address of every port (a Unix socket, and a TCP listener
   * where the port is exposed), closing those of ports that are gone or moved.
   */
  async syncBalancers(): Promise<void> {
    const { ports } = this.config;
    for (const [name, balancer] of this.balancers) {
      const port = ports.find((p) => p.name === name);
      if (port && balancer.matches(this.#placement(port))) continue;
      this.balancers.delete(name);
      await balancer.close();
    }
    for (const port of ports) {
      if (this.balancers.has(port.name)) continue;
      const placement = this.#placement(port);
      const key = { namespace: this.ctx.namespace, serviceId: this.id, processIndex: -1, port: port.name };
      const wanted = placement.tcp && (placement.tcp.port ?? (await this.ctx.ports.get(key)));
      const tcp = placement.tcp && { host: placement.tcp.host, ...(wanted !== undefined ? { port: wanted } : {}) };
      const name = `${this.paths.fullId}-${port.name}`;
      const balancer = await ServiceBalancer.listen({
        name,
        ...placement,
        ...(tcp ? { tcp } : {}),
        policy: () => this.config.balance,
        backends: () => this.#backends(port.name),
        waitForBackendMs: PROCESS_ORCHESTRATOR_DEFAULTS.tcpProxy.backendConnectTimeoutMs,
        lingerMs: PROCESS_ORCHESTRATOR_DEFAULTS.tcpProxy.lingerMs,
        // Said where users look (corral up, events), and to the host's warning handlers.
        onWarning: (message) => {
          process.emitWarning(message, "CorralWarning");
          this.#warn(0, message);
        },
        onConnectionError: (error) => reportSurvivable("process.balancer", "forward", error, { service: this.id, port: port.name }),
      });
      this.balancers.set(port.name, balancer);
      const bound = balancer.tcpPort;
      if (tcp?.port !== undefined && bound !== tcp.port)
        this.#warn(
          0,
          `service address of port ${port.name}: TCP port ${tcp.port} is taken by someone else; it listens on ${balancer.tcpAddress} now`,
        );
      if (bound !== undefined) await this.ctx.ports.remember(key, bound).catch(survive("process.tcp-ports", "remember", { proxy: name }));
    }
  }

  /** Port name → the service address: its Unix socket (or socketDir directory) and, where it listens on TCP, "host:port". */
  serviceAddresses(): Map<string, { unix: string; tcp?: string }> {
    const addresses = new Map<string, { unix: string; tcp?: string }>();
    for (const [port, balancer] of this.balancers) {
      const tcp = balancer.tcpAddress;
      addresses.set(port, { unix: balancer.socketPath, ...(tcp !== undefined ? { tcp } : {}) });
    }
    return addresses;
  }

  /** A process changed state: connections waiting for a ready one may go now. */
  wakeBalancers(): void {
    for (const balancer of this.balancers.values()) balancer.wake();
  }

  #placement(port: ServicePort): { socket: { path: string; dir?: string }; tcp?: { host: string; port?: number } } {
    const { socket, dir } = serviceSocket(this.paths.runDir, port);
    const tcp = serviceTcpListener(this.ctx.config.tcpProxy, port);
    return { socket: { path: socket, ...(dir !== undefined ? { dir } : {}) }, ...(tcp ? { tcp } : {}) };
  }

  /** The processes that may take new connections on `port`: online (ready, where there is a probe) and not stopping. */
  #backends(port: string): BalancerBackend[] {
    const backends: BalancerBackend[] = [];
    for (const [index, slot] of this.slots.entries()) {
      const { supervisor } = slot;
      if (supervisor.status.status !== "online" || supervisor.stopping) continue;
      const socketPath = supervisor.listenAddrs[port];
      if (socketPath !== undefined) backends.push({ index, socketPath });
    }
    return backends;
  }

  /** Takes processes out of every service address and waits (up to drainMs) for their connections there to end. */
  /** `slots` are the slots from index `from` on (those being replaced or removed). */
  async #drain(from: number, slots: readonly Slot[]): Promise<void> {
    const { drainMs } = this.config;
    for (const slot of slots) slot.draining = true;
    try {
      await Promise.all([...this.balancers.values()].flatMap((balancer) => slots.map((_, i) => balancer.drain(from + i, drainMs))));
    } finally {
      for (const slot of slots) slot.draining = false;
    }
  }

  #restore(indices: readonly number[]): void {
    for (const balancer of this.balancers.values()) for (const index of indices) balancer.restore(index);
  }

  /** One entry per process; disk use is the scratch directory's, shared by all of them. */
  async metrics(): Promise<ServiceProcessMetrics[]> {
    const [diskBytes, perProcess] = await Promise.all([
      this.#scratchDir ? directoryDiskBytes(this.#scratchDir) : null,
      mapInSlices(this.slots, METRICS_SLICE, (slot) => slot.metrics()),
    ]);
    return perProcess.map((m) => ({ ...m, diskBytes }));
  }

  /**
   * The status of every slot, by index, then of the slots being removed: a
   * process in its stop grace period is "stopping" (it still runs), and an
   * online one keeps the reason of its last end ("online, after oom-killed").
   */
  statuses(): ServiceEvent[] {
    const toAdd = this.#toAdd;
    const waiting =
      toAdd === null
        ? []
        : toAdd.indices
            .filter((index) => this.slots[index] === undefined)
            .map((processId): ServiceEvent => ({
              serviceId: this.id,
              processId,
              status: "offline",
              reason: "starting",
              restartCount: 0,
              time: toAdd.since,
            }));
    const statusOf = (slot: Slot): ServiceEvent => {
      const status: ServiceEvent = { ...slot.supervisor.status };
      if (slot.draining) Object.assign(status, { status: "offline", reason: "stopping", message: "draining its connections" });
      else if (slot.supervisor.stopping) Object.assign(status, { status: "offline", reason: "stopping" });
      const lastEnd = slot.supervisor.lastEnd;
      if (lastEnd !== undefined && status.reason !== lastEnd) status.lastExitReason = lastEnd;
      return status;
    };
    return [...this.slots.map(statusOf), ...waiting, ...[...this.#retiring].map(statusOf)];
  }

  /**
   * Where a client reaches each process, per port: its Unix socket (for a
   * socketDir port the directory, which is what clients such as psql -h take),
   * and its TCP proxy.
   */
  addresses(): { unix: Record<string, string>; tcp: Record<string, string> }[] {
    const { ports } = this.config;
    const home = this.paths.socketHome;
    return this.slots.map((slot, i) => ({
      unix: { ...listenAddresses(home, ports, i), ...socketDirectories(home, ports, i) },
      tcp: Object.fromEntries([...slot.proxies].map(([port, proxy]) => [port, proxy.address])),
    }));
  }

  handle(): ProcessService {
    const { ports } = this.config;
    const unix = this.slots.map((_, i) => listenAddresses(this.paths.socketHome, ports, i));
    const byPort = new Map(ports.map((port) => [port.name, unix.map((addrs) => addrs[port.name]!)]));
    const tcpProxy = this.ctx.config.tcpProxy;
    const tcpByPort = tcpProxy
      ? new Map(
          ports
            .filter((port) => hasProcessProxy(tcpProxy, port))
            .map((port) => [port.name, this.slots.map((slot) => slot.proxies.get(port.name)!.address)]),
        )
      : null;
    return new ProcessService(
      this.id,
      ports.map((p) => p.name),
      byPort,
      tcpByPort,
      this.serviceAddresses(),
    );
  }

  async #addSlot(index: number, record: PidRecord | null): Promise<void> {
    const { fullId } = this.paths;
    const log = new ProcessLog({
      fifos: fifoFiles(this.paths.runDir, index),
      file: logFile(this.paths.logDir, fullId, index),
      rotation: this.ctx.config.logRotation,
      ...(this.ctx.config.suppressOutput ? {} : { echoPrefix: `${fullId}-${index}` }),
    });
    const slot = new Slot(log, this.#supervisor(index, log));
    this.slots[index] = slot;
    await syncProxies(this.ctx.config.tcpProxy, slot, this.#endpoints(index), this.#portMemory());
    await slot.supervisor.start(record);
  }

  #endpoints(index: number) {
    const { listenAddrs } = this.specs.at(this.config.scale)[index]!;
    return { fullId: this.paths.fullId, processIndex: index, ports: this.config.ports, listenAddrs };
  }

  #portMemory(): PortMemory {
    return {
      ports: this.ctx.ports,
      namespace: this.ctx.namespace,
      serviceId: this.id,
      onMoved: (processIndex, warning) => this.#warn(processIndex, warning),
    };
  }

  /** A warning event about one process, carrying its current status. */
  #warn(processIndex: number, warning: string): void {
    const current = this.slots[processIndex]?.supervisor.status;
    this.ctx.publish({
      ...(current ?? { serviceId: this.id, processId: processIndex, status: "offline", restartCount: 0 }),
      time: new Date(),
      warning,
    });
  }

  #supervisor(processIndex: number, log: ProcessLog): ProcessSupervisor {
    const { config, paths, ctx } = this;
    const spec = this.specs.at(config.scale)[processIndex]!;
    const onCrash = ctx.onCrash?.bind(ctx);
    const { user, group } = config;
    return new ProcessSupervisor({
      environmentId: ctx.config.hostScope,
      fullId: paths.fullId,
      serviceId: this.id,
      processIndex,
      pidFile: pidFile(paths.runDir, processIndex),
      spec,
      stamp: { specHash: this.specs.hashAt(config.scale, processIndex), scale: config.scale },
      limits: {
        ...(config.memoryLimit ? { memoryLimit: config.memoryLimit } : {}),
        ...(config.cpuLimit ? { cpuLimit: config.cpuLimit } : {}),
      },
      stopPolicy: stopPolicyOf(config),
      restartPolicy: config.restartPolicy,
      backoff: withDefaults(ctx.config.restartBackoff, config.restartBackoff),
      ...withHealth(healthChecks(config, spec.listenAddrs, spec.env)),
      ...(config.restartLimit ? { restartLimit: config.restartLimit } : {}),
      launcher: ctx.launcher,
      log,
      socketPaths: Object.values(spec.listenAddrs),
      adoptPollMs: ctx.config.adoptPollMs,
      onEvent: (event) => {
        this.wakeBalancers();
        ctx.publish(event);
      },
      ...(usesSecrets(spec)
        ? {
            secrets: new SecretDelivery(ctx.secrets, spec, config.scale, () =>
              user === undefined ? undefined : resolveServiceUser(user, group),
            ),
          }
        : {}),
      onWarning: (warning) => {
        if (this.#warned) return;
        this.#warned = true;
        this.#warn(processIndex, warning);
      },
      ...(onCrash ? { onCrash } : {}),
      lifecycle: {
        hooks: config.hooks,
        ...(config.stop ? { stop: config.stop } : {}),
        forking: config.forking,
        ...(config.pidFile !== undefined ? { pidFile: config.pidFile } : {}),
        forkTimeoutMs: SERVICE_DEFAULTS.forkTimeoutMs,
      },
    });
  }
}

function withHealth(health: HealthChecks | undefined): { health?: HealthChecks } {
  return health ? { health } : {};
}
