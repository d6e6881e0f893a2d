// The corral daemon: owns the backend for one environment, keeps the desired
// state on disk so a restarted daemon re-applies it (adopting the running
// processes: nothing restarted, nothing duplicated), and serves the HTTP API on
// a Unix socket (0600) and optionally on TCP with a bearer token. It owns
// every listener, and writes every survivable failure reported anywhere in
// corral as one line to its log.
import { EventEmitter } from "node:events";
import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { CONFIG_DEFAULTS, HISTORY_DEFAULTS } from "../contract/defaults.js";
import { ApplyInterruptedError, ConflictError, SecretNotFoundError, UnknownServiceError, ValidationError } from "../contract/errors.js";
import type { SecretsController, ServiceEvent } from "../contract/types.js";
import { startOrder } from "../config/dependencies.js";
import { parseDesiredState } from "../config/desired-state.js";
import { environmentFromDirectory } from "../config/environment-name.js";
import { SHELL } from "../config/shell-command.js";
import { runningScale, toServiceConfig } from "../config/translate.js";
import type { DesiredState, ServiceSpec } from "../config/types.js";
import { validateExecutable } from "../util/executable.js";
import { WorkQueue } from "../process/work-queue.js";
import { reportSurvivable, survive } from "../util/diagnostics.js";
import { droppedLogLines } from "../process/logs.js";
import { errnoCode } from "../util/errno.js";
import { type ApplyOptions, type ApplyResult, type PendingService, applyDesiredState } from "./apply.js";
import { type DaemonBackend, type DaemonNamespace, createBackend } from "./backend.js";
import type { ApplyCallOptions, DaemonApi, ListenAddress } from "./daemon-api.js";
import { type DaemonConfig, type DaemonOptions, checkTcp, resolveDaemonConfig } from "./daemon-config.js";
import { claimPidFile, loadOrCreateToken, logSurvivableErrors } from "./daemon-files.js";
import { DashboardSessions } from "./dashboard/session.js";
import { DesiredStateStore } from "./desired-store.js";
import { DaemonHistory } from "./history.js";
import { type ProcessRow, processRows } from "./process-table.js";
import { Listeners } from "./listeners.js";
import { STATE_DIR_MODE, type StatePaths, prepareSocketDirectory, removeApiSocket, statePaths } from "./state-dir.js";

export type { DaemonOptions } from "./daemon-config.js";

/** Errors of the machine, not of the state: an apply that fails with one is tried again. */
const RESOURCE_ERRNOS = ["EMFILE", "ENFILE", "ENOSPC", "EDQUOT", "EAGAIN", "ENOMEM"];

export class DaemonAlreadyRunningError extends Error {
  override name = "DaemonAlreadyRunningError";
  constructor(readonly pid: number) {
    super(`a corral daemon already runs for this state directory (pid ${pid})`);
  }
}

export class Daemon implements DaemonApi {
  private readonly queue = new WorkQueue();
  private readonly namespaceChanged = new EventEmitter();
  private desired: DesiredState | null;
  /** Why the state file on disk could not be loaded at start-up; cleared once an apply replaces it. */
  private stateProblem: string | null = null;
  /** Why daemon.json could not be written at start-up (a full disk). */
  private pidProblem: string | null = null;
  private readonly listeners: Listeners;
  private closing: Promise<void> | null = null;
  /** Set while a shutdown stops every service: aborting it leaves the rest running. */
  private stopping: AbortController | null = null;
  /** One per apply called and not finished yet: a shutdown aborts them all, so it never queues behind a wait. */
  private readonly applying = new Set<AbortController>();
  /** The background run of an apply whose deadline passed while services waited (keepConverging). */
  private converging: AbortController | null = null;
  /** Counts the calls of apply (background runs excepted): a background run is for the call it continues, and only while that is the latest. */
  private generation = 0;
  private convergingGeneration = 0;
  private readonly pending = new Map<string, PendingService>();
  private stopLogging: () => void = () => {};
  readonly sessions: DashboardSessions;
  /** The last hour of events and metrics, for the dashboard after a reload. */
  readonly history = new DaemonHistory();
  private readonly recording = new AbortController();
  /** Resolves when the daemon has shut down (on request or signal). */
  readonly closed: Promise<void>;
  private markClosed!: () => void;

  private constructor(
    readonly paths: StatePaths,
    /** Where the services run: local processes, or a cluster once a file says backend: kubernetes. */
    public backend: DaemonBackend,
    private readonly store: DesiredStateStore,
    desired: DesiredState | null,
    readonly token: string,
    readonly readToken: string,
    private readonly config: DaemonConfig,
  ) {
    this.desired = desired;
    this.sessions = new DashboardSessions(token, readToken);
    this.listeners = new Listeners(this, { stateRoot: paths.root, logRequests: config.logRequests });
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  static async start(options: DaemonOptions): Promise<Daemon> {
    const config = resolveDaemonConfig(options);
    const paths = statePaths(config.stateDir);
    await mkdir(paths.root, { recursive: true, mode: STATE_DIR_MODE });
    const pidProblem = await claimPidFile(paths, (pid) => new DaemonAlreadyRunningError(pid));
    const stopLogging = logSurvivableErrors(config.log);
    if (pidProblem !== null) reportSurvivable("server.daemon", "claim the state directory", new Error(pidProblem));
    try {
      if (config.tcp) checkTcp(config.tcp.host, config);
      const store = new DesiredStateStore(paths.desired);
      // A state file no daemon can load (an older version's, a hand edit) must not keep the API from
      // serving: the daemon starts without it, says so, and the next apply replaces it.
      let stateProblem: string | null = null;
      const desired = await store.load().catch((error: unknown) => {
        if (!(error instanceof ValidationError)) throw error;
        stateProblem = `the state file could not be loaded (${error.message}); what runs is left alone until an apply replaces it`;
        return null;
      });
      const environment = config.environment ?? desired?.environment ?? environmentFromDirectory(dirname(paths.root));
      if (desired && desired.environment !== environment) {
        throw new ValidationError("environment", `the state directory holds environment "${desired.environment}", not "${environment}"`);
      }
      const backend = await createBackend(desired?.backend ?? CONFIG_DEFAULTS.backend, environment, paths, desired, config);
      const token = config.token ?? (await loadOrCreateToken(paths.token));
      const readToken = await loadOrCreateToken(paths.readToken);
      if (readToken === token) throw new ValidationError("token", `${paths.readToken} must differ from the admin token`);
      const daemon = new Daemon(paths, backend, store, desired, token, readToken, config);
      daemon.stopLogging = stopLogging;
      daemon.stateProblem = stateProblem;
      daemon.pidProblem = pidProblem;
      if (stateProblem !== null) reportSurvivable("server.daemon", "load the desired state", new Error(stateProblem));
      try {
        // Listening first: `ps` answers while the start-up apply adopts and starts (clients' applies queue behind it).
        await prepareSocketDirectory(paths);
        await daemon.listeners.unix(paths.socket);
        // A restarted daemon converges on what it was told before: running processes are adopted.
        if (desired) await daemon.queue.run(() => daemon.applyNow(null, desired));
        // What the state no longer names (a removal the last daemon died in) is stopped: in the queue, not awaited,
        // so a long stop grace does not keep the daemon from finishing its start.
        if (stateProblem === null)
          void daemon.queue
            .run(() => daemon.stopUnwanted(desired))
            .catch(survive("server.daemon", "stop services the state no longer names"));
        if (config.tcp) await daemon.listeners.tcpListener(config.tcp.host, config.tcp.port, !config.noAuth);
        else await daemon.listeners.reopenDashboard();
        daemon.recordHistory();
      } catch (error) {
        await daemon.listeners.close();
        await removeApiSocket(paths);
        await backend.close({ leaveRunning: true });
        throw error;
      }
      return daemon;
    } catch (error) {
      stopLogging();
      await rm(paths.pidFile, { force: true });
      throw error;
    }
  }

  /**
   * Every event, and every process's CPU and memory as clients read them (ps,
   * the dashboard, Prometheus), into the history until shutdown. With no
   * client's reading for HISTORY_DEFAULTS.idleSampleIntervalMs the daemon takes
   * one itself, so the charts have a past when a dashboard opens.
   */
  private recordHistory(): void {
    const signal = this.recording.signal;
    void (async () => {
      for await (const event of this.watch(signal)) if (!("snapshotEnd" in event)) this.history.record(event);
    })().catch(survive("server.daemon", "record the event history"));
    const idleMs = HISTORY_DEFAULTS.idleSampleIntervalMs;
    let timer: NodeJS.Timeout;
    // Due idleMs after the last reading kept, whoever made it; a failed one is not retried sooner.
    const schedule = (delayMs: number) => {
      timer = setTimeout(sampleIfIdle, delayMs);
      timer.unref();
    };
    const sampleIfIdle = () => {
      const ns = this.namespace;
      const due = this.history.lastSampleAt + idleMs - Date.now();
      if (!ns || due > 0) return schedule(ns ? due : idleMs);
      this.processRows()
        .catch(survive("server.daemon", "sample metrics for the history"))
        .finally(() => signal.aborted || schedule(idleMs));
    };
    schedule(idleMs);
    signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  }

  processRows(): Promise<ProcessRow[]> {
    const ns = this.namespace;
    if (!ns) return Promise.resolve([]);
    return processRows(ns, { pending: this.pending, state: this.desired, measured: (rows) => this.history.sample(rows) });
  }

  /** Sends a signal to one process (the dashboard's "kill"): its restart policy decides what follows, as after any crash. */
  killProcess(id: string, index: number, signal: NodeJS.Signals): { pid: number } {
    const ns = this.namespace;
    if (!ns || !this.desired?.services[id]) throw new UnknownServiceError(id);
    const processes = ns.processStatuses().find((s) => s.serviceId === id)?.processes ?? [];
    const event = processes.find((p) => p.processId === index);
    if (!event) throw new ValidationError("process", `must be a process index below ${processes.length}`, index);
    const alive = event.status === "online" || event.reason === "starting" || event.reason === "probe-failed";
    if (!alive || event.pid === undefined) throw new ConflictError(`${id}-${index} is not running (${event.reason ?? event.status})`);
    process.kill(event.pid, signal);
    return { pid: event.pid };
  }

  /** Replaces one process with a fresh one (stopped as configured, then started), whatever its restart policy. */
  async restartProcess(id: string, index: number): Promise<void> {
    const spec = this.desired?.services[id];
    if (!this.desired || !spec) throw new UnknownServiceError(id);
    const count = this.namespace?.processStatuses().find((s) => s.serviceId === id)?.processes.length ?? 0;
    if (index >= count) throw new ValidationError("process", `must be a process index below ${count}`, index);
    const inPlace = this.backend.restartProcess?.bind(this.backend);
    if (!inPlace) throw new ConflictError(`one process at a time is restarted on the process backend only; use a rolling restart of ${id}`);
    const namespace = this.desired.namespace;
    await this.queue.run(() => inPlace(namespace, id, index));
  }

  get environment(): string {
    return this.backend.environmentId;
  }

  /** Services of the desired state not started (yet), and why (for `ps`). */
  get pendingServices(): ReadonlyMap<string, PendingService> {
    return this.pending;
  }

  get state(): DesiredState | null {
    return this.desired;
  }

  /** What the user should know is wrong with the daemon itself (shown by /healthz, `corral ps`, the dashboard). */
  get problems(): string[] {
    const problems = [this.stateProblem, this.pidProblem].filter((problem) => problem !== null);
    const dropped = droppedLogLines();
    if (dropped.lines > 0)
      problems.push(`${dropped.lines} log lines were dropped (${dropped.lastError}); capture resumes when the disk has room`);
    return problems;
  }

  /** The namespace the desired state lives in (null before the first apply). */
  get namespace(): DaemonNamespace | null {
    return this.desired ? this.backend.namespace(this.desired.namespace) : null;
  }

  /** TCP address the API listens on, when it does. */
  get tcpAddress(): string | null {
    return this.listeners.tcpAddress;
  }

  secrets(): SecretsController {
    return this.backend.secretsController();
  }

  /**
   * Sets a secret and, when its value changed, re-ensures the services that read
   * it, dependencies first, one after the other: their processes roll (each new
   * one online before the next goes) with the new value. In the queue, so no
   * apply runs meanwhile. The value is compared here and never kept.
   */
  setSecret(id: string, contents: Uint8Array): Promise<string[]> {
    return this.queue.run(async () => {
      const secrets = this.secrets();
      const before = await secrets
        .reader()
        .read(id)
        .catch((error: unknown) => {
          if (error instanceof SecretNotFoundError) return null;
          throw error;
        });
      await secrets.ensure(id, contents);
      const desired = this.desired;
      if (!desired || (before !== null && Buffer.from(before).equals(contents))) return [];
      const readers = new Set(servicesReading(desired, id));
      const rolled: string[] = [];
      for (const service of startOrder(desired).flat()) {
        if (!readers.has(service)) continue;
        const config = toServiceConfig(desired.services[service]!, { namespace: desired.namespace, serviceId: service });
        await this.backend.namespace(desired.namespace).ensureService(service, config);
        rolled.push(service);
      }
      return rolled;
    });
  }

  /** Deletes a secret, refused while services of the desired state read it (as Docker refuses to remove a secret in use). */
  deleteSecret(id: string): Promise<void> {
    return this.queue.run(async () => {
      const secrets = this.secrets();
      if (!(await secrets.list()).includes(id)) throw new SecretNotFoundError(id);
      const readers = this.desired ? servicesReading(this.desired, id) : [];
      if (readers.length > 0) {
        throw new ConflictError(`secret "${id}" is read by ${readers.join(", ")}: remove it from their secrets and env first`);
      }
      await secrets.delete(id);
    });
  }

  openDashboardListener(port?: number): Promise<ListenAddress> {
    return this.listeners.openDashboard(port);
  }

  /**
   * Status events of whichever namespace is current: a snapshot of every
   * process (then a `snapshotEnd` marker), then every change; when an apply
   * moves to another namespace (or sets the first), a new snapshot follows.
   */
  async *watch(signal: AbortSignal): AsyncGenerator<ServiceEvent | { snapshotEnd: true }> {
    while (!signal.aborted) {
      const ns = this.namespace;
      const switched = new AbortController();
      const onAbort = () => switched.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      const onChange = () => switched.abort();
      this.namespaceChanged.once("change", onChange);
      try {
        if (!ns) {
          yield { snapshotEnd: true };
          await new Promise((resolve) => switched.signal.addEventListener("abort", resolve, { once: true }));
          continue;
        }
        let snapshotLeft = ns.processStatuses().reduce((n, s) => n + s.processes.length, 0);
        if (snapshotLeft === 0) yield { snapshotEnd: true };
        for await (const event of ns.watchServices({ signal: switched.signal })) {
          yield event;
          if (snapshotLeft > 0 && --snapshotLeft === 0) yield { snapshotEnd: true };
        }
      } finally {
        signal.removeEventListener("abort", onAbort);
        this.namespaceChanged.off("change", onChange);
      }
    }
  }

  /**
   * Applies a whole desired state as a diff. Calls are applied one at a time.
   * Checked whole first (the wire schema, then what it names on this machine):
   * a state that fails is never persisted, and nothing is touched.
   */
  apply(state: DesiredState, options: ApplyCallOptions = {}): Promise<ApplyResult> {
    if (this.closing) return Promise.reject(new ApplyInterruptedError("the daemon is shutting down"));
    const background = this.converging !== null && options.signal === this.converging.signal;
    // Every call but a background one is newer than whatever was asked before it.
    const generation = background ? this.convergingGeneration : ++this.generation;
    // A newer call says what to converge on: the background convergence of an older one gives way.
    if (this.converging && !background) {
      this.converging.abort(new ApplyInterruptedError("a newer apply took over"));
      this.converging = null;
    }
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    const controller = new AbortController();
    let left = false;
    const callerLeft = () => {
      left = true;
      controller.abort(new ApplyInterruptedError("its caller left"));
    };
    if (options.signal?.aborted) callerLeft();
    options.signal?.addEventListener("abort", callerLeft, { once: true });
    this.applying.add(controller);
    const applyOptions: Omit<ApplyOptions, "dependencyTimeoutMs"> = {
      signal: controller.signal,
      ...(deadline !== undefined ? { deadline } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    };
    return this.queue
      .run(async () => {
        // Pre-empted while queued: nothing was checked, persisted or touched.
        if (controller.signal.aborted) throw controller.signal.reason;
        // A background run queued behind a newer call would re-apply an older state: it gives way.
        if (background && generation !== this.generation) throw new ApplyInterruptedError("a newer apply took over");
        const before = this.desired;
        try {
          const result = await this.applyQueued(state, applyOptions);
          if (result.waiting.length > 0 && deadline !== undefined) this.keepConverging(generation);
          return result;
        } catch (error) {
          // The caller that left (its own deadline, a closed connection) told the daemon what to run: it is kept running towards it.
          if (left && !background && this.desired !== before && !this.closing) this.keepConverging(generation);
          throw error;
        }
      })
      .finally(() => {
        this.applying.delete(controller);
        options.signal?.removeEventListener("abort", callerLeft);
      });
  }

  private async applyQueued(state: DesiredState, options: Omit<ApplyOptions, "dependencyTimeoutMs">): Promise<ApplyResult> {
    const next = parseDesiredState(state);
    if (next.environment !== this.environment) {
      throw new ValidationError("environment", `this daemon runs environment "${this.environment}"; the file says "${next.environment}"`);
    }
    const backend = next.backend ?? CONFIG_DEFAULTS.backend;
    const movesBackend =
      backend !== this.backend.kind ||
      (backend === "kubernetes" && JSON.stringify(next.kubernetes) !== JSON.stringify(this.desired?.kubernetes));
    // Moving between backends is allowed only while nothing runs: services are never left behind on the old one.
    if (movesBackend && this.desired && Object.keys(this.desired.services).length > 0) {
      throw new ValidationError(
        "backend",
        `this daemon runs services on the ${this.backend.kind} backend; stop them first (corral down) to move them to ${backend}`,
      );
    }
    for (const [id, spec] of Object.entries(next.services)) checkRunnable(id, spec, next, backend);
    if (movesBackend) {
      const replacement = await createBackend(backend, this.environment, this.paths, next, this.config);
      await this.backend.close({ leaveRunning: true });
      this.backend = replacement;
      this.namespaceChanged.emit("change");
    }
    const previous = this.desired;
    // Persisted first: a daemon that dies half-way converges on it when restarted.
    await this.store.save(next);
    this.desired = next;
    if (previous?.namespace !== next.namespace) this.namespaceChanged.emit("change");
    let result: ApplyResult;
    try {
      result = await this.applyNow(previous, next, options);
    } catch (error) {
      // Persisted but not reached for want of a resource (no descriptors, a full disk): the daemon
      // keeps trying to converge on it, as a restarted one would, rather than waiting for the next apply.
      if (RESOURCE_ERRNOS.includes(errnoCode(error) ?? "")) this.retryConverge();
      throw error;
    }
    if (this.stateProblem !== null) {
      // The unloadable file is replaced: whatever it had started and this state does not name goes now.
      this.stateProblem = null;
      await this.stopUnwanted(next);
    }
    return result;
  }

  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = 0;

  /** Converges on the desired state again after a back-off (200 ms doubling to 10 s) until an attempt gets through. */
  private retryConverge(): void {
    if (this.retryTimer !== undefined || this.closing) return;
    this.retryDelayMs = Math.min(Math.max(this.retryDelayMs * 2, 200), 10_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.queue
        .run(async () => {
          const desired = this.desired;
          if (!desired || this.closing) return;
          await this.applyNow(null, desired);
          await this.stopUnwanted(desired);
          this.retryDelayMs = 0;
        })
        .catch((error: unknown) => {
          reportSurvivable("server.daemon", "converge on the desired state again", error);
          if (RESOURCE_ERRNOS.includes(errnoCode(error) ?? "")) this.retryConverge();
        });
    }, this.retryDelayMs);
  }

  /**
   * Stops services the backend records that `desired` does not name (any
   * service of another namespace, every one without a state): what a daemon
   * that died while removing them left, with the identity checks of adoption.
   * Indices above a service's scale are its ensureService's to stop.
   */
  private async stopUnwanted(desired: DesiredState | null): Promise<void> {
    const recorded = (await this.backend.recordedServices?.()) ?? [];
    const unwanted = recorded.filter(({ namespace, id }) => namespace !== desired?.namespace || !Object.hasOwn(desired.services, id));
    await Promise.all(unwanted.map(({ namespace, id }) => this.backend.namespace(namespace).dropService(id)));
  }

  /**
   * The deadline of an apply bounds how long its caller waits, not the desired
   * state: the services still waiting then are started once their
   * dependencies are ready, by the same apply run again without a deadline (a
   * dependency timeout per wait), until a newer call or a shutdown pre-empts it.
   */
  private keepConverging(generation: number): void {
    if (this.closing || !this.desired || generation !== this.generation) return;
    this.convergingGeneration = generation;
    const controller = new AbortController();
    this.converging = controller;
    const state = this.desired;
    void this.apply(state, { signal: controller.signal })
      .catch((error: unknown) => {
        if (!(error instanceof ApplyInterruptedError)) survive("server.daemon", "keep converging after the apply's deadline")(error);
      })
      .finally(() => {
        if (this.converging === controller) this.converging = null;
      });
  }

  private async applyNow(
    previous: DesiredState | null,
    next: DesiredState,
    callOptions: Omit<ApplyOptions, "dependencyTimeoutMs"> = {},
  ): Promise<ApplyResult> {
    // What is not started (yet) is the current desired state's: a new apply starts from a clean slate.
    this.pending.clear();
    const options: ApplyOptions = {
      dependencyTimeoutMs: this.config.dependencyTimeoutMs,
      ...callOptions,
      onPending: (service, pending) => (pending ? this.pending.set(service, pending) : this.pending.delete(service)),
    };
    if (previous && previous.namespace !== next.namespace) {
      await applyDesiredState(this.backend.namespace(previous.namespace), previous, { ...previous, services: {} }, options);
      previous = null;
    }
    return applyDesiredState(this.backend.namespace(next.namespace), previous, next, options);
  }

  /** Creates or replaces one service in the desired state. */
  putService(id: string, spec: ServiceSpec): Promise<ApplyResult> {
    return this.apply(this.withServices((services) => ({ ...services, [id]: spec })));
  }

  deleteService(id: string): Promise<ApplyResult> {
    return this.apply(
      this.withServices((services) => {
        const { [id]: _removed, ...rest } = services;
        return rest;
      }),
    );
  }

  /** `scale web=0` means the same as `corral stop web`: the scale is kept for `corral start`. */
  scale(id: string, scale: number): Promise<ApplyResult> {
    const spec = this.desired?.services[id];
    if (!spec) return Promise.reject(new UnknownServiceError(id));
    if (scale === 0) return this.stop(id);
    const { stopped: _stopped, ...running } = spec;
    return this.putService(id, { ...running, scale });
  }

  /**
   * Stops a service's processes, each through its stop signal and grace
   * period, and keeps it in the desired state (persisted: a restarted daemon
   * leaves it stopped). Its dependents are left running, as `docker compose
   * stop` leaves them; `corral up` and `corral start` start it again.
   */
  stop(id: string): Promise<ApplyResult> {
    const spec = this.desired?.services[id];
    if (!spec) return Promise.reject(new UnknownServiceError(id));
    return this.putService(id, { ...spec, stopped: true });
  }

  /**
   * Starts a stopped service again, with the stopped services it depends on
   * (as `docker compose start` selects a service with its dependencies), in
   * dependency order. A service of scale 0 gets one process.
   */
  start(id: string): Promise<ApplyResult> {
    const services = this.desired?.services;
    if (!services?.[id]) return Promise.reject(new UnknownServiceError(id));
    const wanted = new Set<string>();
    const visit = (name: string) => {
      if (wanted.has(name) || !services[name]) return;
      wanted.add(name);
      for (const dependency of Object.keys(services[name].dependsOn)) visit(dependency);
    };
    visit(id);
    return this.apply(
      this.withServices((all) =>
        Object.fromEntries(
          Object.entries(all).map(([name, spec]) => {
            if (!wanted.has(name) || runningScale(spec) > 0) return [name, spec];
            const { stopped: _stopped, ...running } = spec;
            return [name, { ...running, scale: Math.max(running.scale, 1) }];
          }),
        ),
      ),
    );
  }

  /** Rolling restart: every process replaced, one at a time. */
  async restart(id: string): Promise<void> {
    const spec = this.desired?.services[id];
    if (!this.desired || !spec) throw new UnknownServiceError(id);
    const inPlace = this.backend.restartService?.bind(this.backend);
    if (inPlace) {
      const namespace = this.desired.namespace;
      await this.queue.run(() => inPlace(namespace, id));
    } else {
      // On a cluster a changed pod template rolls the pods; kept in the desired state so it stays rolled.
      await this.putService(id, { ...spec, restartedAt: new Date().toISOString() });
    }
  }

  /**
   * Services the backend still records (run directories of any namespace) that
   * no desired state names any more: left by a daemon that died while removing
   * them, or by a state file edited since. `corral down` stops them too.
   */
  private async stopRecordedServices(): Promise<void> {
    const recorded = (await this.backend.recordedServices?.()) ?? [];
    await Promise.all(recorded.map(({ namespace, id }) => this.backend.namespace(namespace).dropService(id)));
  }

  private withServices(change: (services: DesiredState["services"]) => DesiredState["services"]): DesiredState {
    const current = this.desired ?? { environment: this.environment, namespace: CONFIG_DEFAULTS.namespace, services: {} };
    return { ...current, services: change(current.services) };
  }

  /**
   * Stops serving. With `stopServices` every service is stopped (dependents
   * first) and the desired state cleared; otherwise the processes keep running
   * for the next daemon to adopt. A shutdown without `stopServices` while one
   * with it is stopping services (a second Ctrl-C in `corral up`) stops the
   * stopping: what still runs is left running, the desired state kept for the
   * next daemon, which adopts it.
   */
  shutdown({ stopServices = false } = {}): Promise<void> {
    if (this.closing) {
      if (!stopServices) this.stopping?.abort(new ApplyInterruptedError("asked to leave the services running"));
      return this.closing;
    }
    this.closing = (async () => {
      clearTimeout(this.retryTimer);
      // Whatever an apply in progress waits for, stopping comes first.
      for (const apply of this.applying) apply.abort(new ApplyInterruptedError("the daemon is stopping every service"));
      let leftRunning = !stopServices;
      if (stopServices) {
        const before = this.desired;
        const stopping = (this.stopping = new AbortController());
        await this.queue
          .run(async () => {
            try {
              await this.applyQueued(
                this.withServices(() => ({})),
                { signal: stopping.signal },
              );
            } catch (error) {
              if (!stopping.signal.aborted) throw error;
              leftRunning = true;
              // What still runs stays desired: the next daemon adopts it, `corral down` stops it.
              if (before) await this.store.save(before);
              this.desired = before;
              return;
            }
            await this.stopRecordedServices();
          })
          .catch(survive("server.daemon", "stop every service"));
        if (!leftRunning) await rm(this.paths.desired, { force: true });
      }
      this.recording.abort();
      await this.listeners.close();
      await this.backend.close({ leaveRunning: leftRunning });
      await removeApiSocket(this.paths);
      await rm(this.paths.pidFile, { force: true });
      this.stopLogging();
      this.markClosed();
    })();
    return this.closing;
  }
}

/** What the schema cannot know: what the backend runs, that the program exists here and may run, that the contract takes the spec. */
function checkRunnable(id: string, spec: ServiceSpec, state: DesiredState, backend: DesiredState["backend"]): void {
  if (backend === "kubernetes" && spec.image === undefined)
    throw new ValidationError(`services.${id}.image`, "is required with backend: kubernetes");
  if (backend === "kubernetes" && spec.shell !== undefined) throw new ValidationError(`services.${id}.shell`, "is for backend: process");
  if (backend === "process") {
    if (spec.command === undefined && spec.shell === undefined)
      throw new ValidationError(`services.${id}.command`, "is required with backend: process (or shell)");
    validateExecutable(`services.${id}.command`, spec.command ?? SHELL, { interpreter: true });
  }
  try {
    toServiceConfig(spec, { namespace: state.namespace, serviceId: id });
  } catch (error) {
    if (error instanceof ValidationError) throw new ValidationError(`services.${id}.${error.field}`, error.rule);
    throw error;
  }
}

/** The services of a desired state that read a secret, as a file or a variable, by id. */
function servicesReading(state: DesiredState, secretId: string): string[] {
  return Object.keys(state.services)
    .filter((service) => {
      const spec = state.services[service]!;
      return (spec.secrets ?? []).includes(secretId) || Object.values(spec.secretEnv ?? {}).includes(secretId);
    })
    .sort();
}

/** A folder name as an environment id: lower case, other characters as "-" (the loader's rule, one place). */
export function sanitizeId(name: string): string {
  return environmentFromDirectory(name);
}
