// The corral daemon: owns one ProcessOrchestrator for one environment, keeps
// the desired state on disk so a restarted daemon re-applies it (adopting the
// running processes: nothing restarted, nothing duplicated), and serves the
// HTTP API on a Unix socket (0600) and optionally on TCP with a bearer token.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { chmod, mkdir, readFile, rm } from "node:fs/promises";
import { isIP } from "node:net";
import { basename, dirname } from "node:path";
import type { FastifyInstance } from "fastify";
import { ValidationError } from "../contract/errors.js";
import type { ServiceEvent } from "../contract/types.js";
import type { Backend, DesiredState, ServiceSpec } from "../config/types.js";
import { identify, isAlive, readPidRecord } from "../process/identity.js";
import { ProcessOrchestrator, type ProcessOrchestratorConfig } from "../process/orchestrator.js";
import { type DaemonBackend, type DaemonNamespace, kubernetesBackend, processBackend } from "./backend.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { type ApplyResult, applyDesiredState } from "./apply.js";
import { buildApi } from "./api.js";
import { DesiredStateStore } from "./desired-store.js";
import { type StatePaths, statePaths } from "./state-dir.js";
import { WorkQueue } from "../process/work-queue.js";
import { assertExecutable } from "../util/executable.js";
import { toServiceConfig } from "../config/translate.js";
import { validateServiceConfig } from "../contract/validation.js";

export interface DaemonOptions {
  stateDir: string;
  /** Names the environment; default: the desired state's, else the name of the folder holding the state dir. */
  environment?: string;
  /** Also serve the API on TCP (e.g. for the dashboard); refused on a non-loopback address without a token. */
  tcp?: { host: string; port: number };
  /** Bearer token for TCP; default: `<stateDir>/token`, created (0600) if missing. */
  token?: string;
  /** Serve TCP without a token: only on a loopback address. */
  noAuth?: boolean;
  launcher?: ProcessOrchestratorConfig["launcher"];
  /** How long `apply` waits for one dependency's condition. Default 5 minutes. */
  dependencyTimeoutMs?: number;
  /** Log requests (pino, as fastify does). Default false. */
  logRequests?: boolean;
}

export class DaemonAlreadyRunningError extends Error {
  override name = "DaemonAlreadyRunningError";
  constructor(readonly pid: number) {
    super(`a corral daemon already runs for this state directory (pid ${pid})`);
  }
}

export class Daemon {
  private readonly queue = new WorkQueue();
  private readonly namespaceChanged = new EventEmitter();
  private desired: DesiredState | null;
  private readonly apis: FastifyInstance[] = [];
  private closing: Promise<void> | null = null;
  /** TCP address the API listens on, when it does. */
  tcpAddress: string | null = null;
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
    private readonly options: DaemonOptions,
  ) {
    this.desired = desired;
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  static async start(options: DaemonOptions): Promise<Daemon> {
    const paths = statePaths(options.stateDir);
    await mkdir(paths.root, { recursive: true, mode: 0o700 });
    await claimPidFile(paths);
    if (options.tcp) checkTcp(options.tcp.host, options);
    const store = new DesiredStateStore(paths.desired);
    const desired = await store.load();
    const environment = options.environment ?? desired?.environment ?? sanitizeId(basename(dirname(paths.root)));
    if (desired && desired.environment !== environment) {
      throw new ValidationError("environment", `the state directory holds environment "${desired.environment}", not "${environment}"`);
    }
    const backend = await createBackend(desired?.backend ?? "process", environment, paths, desired, options);
    const token = options.token ?? (await loadOrCreateToken(paths.token));
    const daemon = new Daemon(paths, backend, store, desired, token, options);
    try {
      // A restarted daemon converges on what it was told before: running processes are adopted.
      if (desired) await daemon.applyNow(null, desired);
      await daemon.listen();
    } catch (error) {
      await backend.close({ leaveRunning: true });
      await rm(paths.pidFile, { force: true });
      throw error;
    }
    return daemon;
  }

  get environment(): string {
    return this.backend.environmentId;
  }

  get state(): DesiredState | null {
    return this.desired;
  }

  /** The namespace the desired state lives in (null before the first apply). */
  get namespace(): DaemonNamespace | null {
    return this.desired ? this.backend.namespace(this.desired.namespace) : null;
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

  private async listen(): Promise<void> {
    await rm(this.paths.socket, { force: true });
    const unixApi = await buildApi(this, { requireToken: false, logRequests: this.options.logRequests ?? false });
    await unixApi.listen({ path: this.paths.socket });
    await chmod(this.paths.socket, 0o600);
    this.apis.push(unixApi);
    if (this.options.tcp) {
      const tcpApi = await buildApi(this, { requireToken: !this.options.noAuth, logRequests: this.options.logRequests ?? false });
      await tcpApi.listen({ host: this.options.tcp.host, port: this.options.tcp.port });
      const address = tcpApi.server.address();
      if (address && typeof address === "object")
        this.tcpAddress = `${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
      this.apis.push(tcpApi);
    }
  }

  /** Applies a whole desired state as a diff. Calls are applied one at a time. */
  apply(next: DesiredState, onProgress?: (message: string) => void): Promise<ApplyResult> {
    return this.queue.run(async () => {
      if (next.environment !== this.environment) {
        throw new ValidationError("environment", `this daemon runs environment "${this.environment}"; the file says "${next.environment}"`);
      }
      const backend = next.backend ?? "process";
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
      // Every service must translate into a valid config before anything is persisted or touched.
      for (const [id, spec] of Object.entries(next.services)) {
        if (backend === "process") {
          try {
            assertExecutable(spec.command ?? "");
            if (!spec.command?.startsWith("/")) throw new Error("must be an absolute path");
          } catch (error) {
            throw new ValidationError(`services.${id}.command`, (error as Error).message, spec.command);
          }
        } else if (!spec.image) {
          throw new ValidationError(`services.${id}.image`, "is required with backend: kubernetes");
        }
        validateServiceConfig(toServiceConfig(spec, { namespace: next.namespace, serviceId: id }));
      }
      if (movesBackend) {
        const replacement = await createBackend(backend, this.environment, this.paths, next, this.options);
        await this.backend.close({ leaveRunning: true });
        this.backend = replacement;
        this.namespaceChanged.emit("change");
      }
      const previous = this.desired;
      // Persisted first: a daemon that dies half-way converges on it when restarted.
      await this.store.save(next);
      this.desired = next;
      if (previous?.namespace !== next.namespace) this.namespaceChanged.emit("change");
      return this.applyNow(previous, next, onProgress);
    });
  }

  private async applyNow(previous: DesiredState | null, next: DesiredState, onProgress?: (message: string) => void): Promise<ApplyResult> {
    const options = { dependencyTimeoutMs: this.options.dependencyTimeoutMs ?? 300_000, ...(onProgress ? { onProgress } : {}) };
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

  scale(id: string, scale: number): Promise<ApplyResult> {
    const spec = this.desired?.services[id];
    if (!spec) return Promise.reject(new ValidationError("service", `no service named ${JSON.stringify(id)}`));
    return this.putService(id, { ...spec, scale });
  }

  /** Rolling restart: every process replaced, one at a time. */
  async restart(id: string): Promise<void> {
    const spec = this.desired?.services[id];
    if (!this.desired || !spec) throw new ValidationError("service", `no service named ${JSON.stringify(id)}`);
    const inPlace = this.backend.restartService?.bind(this.backend);
    if (inPlace) {
      const namespace = this.desired.namespace;
      await this.queue.run(() => inPlace(namespace, id));
    } else {
      // On a cluster a changed pod template rolls the pods; kept in the desired state so it stays rolled.
      await this.putService(id, { ...spec, restartedAt: new Date().toISOString() });
    }
  }

  private withServices(change: (services: DesiredState["services"]) => DesiredState["services"]): DesiredState {
    const current = this.desired ?? { environment: this.environment, namespace: "default", services: {} };
    return { ...current, services: change(current.services) };
  }

  /**
   * Stops serving. With `stopServices` every service is stopped (dependents
   * first) and the desired state cleared; otherwise the processes keep running
   * for the next daemon to adopt.
   */
  shutdown({ stopServices = false } = {}): Promise<void> {
    this.closing ??= (async () => {
      if (stopServices) {
        await this.apply(this.withServices(() => ({}))).catch(() => {});
        await rm(this.paths.desired, { force: true });
      }
      await Promise.all(this.apis.map((api) => api.close()));
      await this.backend.close({ leaveRunning: !stopServices });
      await rm(this.paths.socket, { force: true });
      await rm(this.paths.pidFile, { force: true });
      this.markClosed();
    })();
    return this.closing;
  }
}

async function createBackend(
  kind: Backend,
  environment: string,
  paths: StatePaths,
  desired: DesiredState | null,
  options: DaemonOptions,
): Promise<DaemonBackend> {
  if (kind === "kubernetes") return kubernetesBackend(environment, desired?.kubernetes ?? {});
  return processBackend(
    await ProcessOrchestrator.create({
      imageDir: paths.root,
      environmentId: environment,
      stateDir: paths.run,
      scratchDirectory: paths.scratch,
      secretsDir: paths.secrets,
      suppressOutput: true,
      tcpProxy: { listenAddr: "127.0.0.1", prometheusServiceDiscoveryDir: paths.discovery },
      ...(options.launcher ? { launcher: options.launcher } : {}),
    }),
  );
}

async function claimPidFile(paths: StatePaths): Promise<void> {
  const record = readPidRecord(paths.pidFile);
  if (record && isAlive(record) && record.pid !== process.pid) throw new DaemonAlreadyRunningError(record.pid);
  const me = identify(process.pid);
  if (!me) throw new Error("cannot read this process's own /proc entry");
  await writeFileAtomic(
    paths.pidFile,
    `${JSON.stringify({ ...me, specHash: "daemon", restartCount: 0, launchedAt: new Date().toISOString() })}\n`,
    { mode: 0o600 },
  );
}

function checkTcp(host: string, options: DaemonOptions): void {
  if (isIP(host) === 0) throw new ValidationError("tcp.host", "must be an IP address", host);
  const loopback = host === "::1" || host.startsWith("127.");
  if (options.noAuth && !loopback) throw new ValidationError("noAuth", "is allowed only on a loopback address", host);
}

async function loadOrCreateToken(path: string): Promise<string> {
  try {
    const token = (await readFile(path, "utf8")).trim();
    if (token.length >= 32) return token;
  } catch {}
  const token = randomBytes(32).toString("hex");
  await writeFileAtomic(path, `${token}\n`, { mode: 0o600 });
  return token;
}

/** A folder name as an environment id: lower case, other characters as "-". */
export function sanitizeId(name: string): string {
  const id = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return id || "default";
}
