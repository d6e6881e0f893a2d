import { mkdir, realpath, chmod, stat } from "node:fs/promises";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { OrchestratorClosedError, ValidationError } from "../contract/errors.js";
import type { Orchestrator, ServiceEvent } from "../contract/types.js";
import type { RestartBackoff } from "../contract/types.js";
import { SERVICE_DEFAULTS, restartBackoffSchema, validateId } from "../contract/validation.js";
import { selectLauncher } from "./launch/select.js";
import type { Launcher, LauncherKind } from "./launch/types.js";
import { DEFAULT_LOG_ROTATION, type LogRotation } from "./logs.js";
import { NamespacedProcessOrchestrator } from "./namespace.js";
import { ProcessSecretsController } from "./secrets.js";

export interface ProcessOrchestratorConfig {
  /** Where relative images are found. */
  imageDir: string;
  /** Names this deployment: two orchestrators with the same id and state dir manage the same processes. */
  environmentId: string;
  /** Parent of the services' scratch directories. */
  scratchDirectory: string;
  secretsDir: string;
  /** PID files, sockets and service manifests. Default: `<os tmpdir>/corral-<environmentId>`. */
  stateDir?: string;
  /** Do not echo children's output on our stdout/stderr. */
  suppressOutput?: boolean;
  /** Program and arguments put before every image; `%N` and `%P:<port>` are interpolated. */
  commandWrapper?: string[];
  /** A child killed by SIGABRT/SIGBUS/SIGSEGV/SIGTRAP/SIGILL stops every process and exits this host with status 1. */
  propagateCrashes?: boolean;
  tcpProxy?: { listenAddr: string; prometheusServiceDiscoveryDir?: string };
  /** How processes are started so their limits hold. auto: systemd where a user manager runs, else cgroups where writable, else direct. */
  launcher?: "auto" | LauncherKind;
  /** Restart back-off for every service (each service may override it). Defaults: 100 ms doubling up to 10 s, ±20 % jitter, reset after 30 s up. */
  restartBackoff?: RestartBackoff;
  /** Where process logs go. Default: `<stateDir>/logs`. */
  logDir?: string;
  /** Log rotation by size. Default: 10 MiB x 5 files. */
  logRotation?: Partial<LogRotation>;
  /** How long a rolling change waits for each replacement to come online. Default 120 s. */
  rolloutTimeoutMs?: number;
  /** How often a process adopted from an earlier instance is checked for exit. Default 250 ms. */
  adoptPollMs?: number;
  /** Events a watcher may fall behind before it is resynchronised with a snapshot. Default 10000. */
  watchBufferSize?: number;
}

const ENVIRONMENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Runs services as supervised processes on this machine: the embedded
 * default backend of corral, a port of Materialize's process orchestrator.
 */
export class ProcessOrchestrator implements Orchestrator {
  private readonly namespaces = new Map<string, NamespacedProcessOrchestrator>();
  private readonly runDirOwners = new Map<string, string>();
  private closed = false;
  private secrets: ProcessSecretsController | undefined;
  private crashing = false;

  private constructor(
    readonly config: Readonly<
      Required<Pick<ProcessOrchestratorConfig, "imageDir" | "environmentId" | "scratchDirectory" | "secretsDir" | "stateDir" | "logDir">>
    > &
      Readonly<ProcessOrchestratorConfig>,
    /** How this orchestrator starts processes (chosen once, at create). */
    readonly launcher: Launcher,
  ) {}

  static async create(config: ProcessOrchestratorConfig): Promise<ProcessOrchestrator> {
    const checked = checkConfig(config);
    const stateDir = resolve(config.stateDir ?? join(tmpdir(), `corral-${config.environmentId}`));
    let imageDir: string;
    try {
      imageDir = await realpath(config.imageDir);
      if (!(await stat(imageDir)).isDirectory()) throw new Error();
    } catch {
      throw new ValidationError("imageDir", "must be an existing directory", config.imageDir);
    }
    const launcher = await selectLauncher(config.launcher ?? "auto");
    await mkdir(stateDir, { recursive: true });
    const logDir = resolve(config.logDir ?? join(stateDir, "logs"));
    await mkdir(logDir, { recursive: true });
    await mkdir(config.scratchDirectory, { recursive: true });
    const sdDir = config.tcpProxy?.prometheusServiceDiscoveryDir;
    if (sdDir) await mkdir(sdDir, { recursive: true });
    await mkdir(config.secretsDir, { recursive: true, mode: 0o700 });
    await chmod(config.secretsDir, 0o700);
    return new ProcessOrchestrator(
      {
        ...checked,
        imageDir,
        stateDir: await realpath(stateDir),
        logDir: await realpath(logDir),
        scratchDirectory: await realpath(config.scratchDirectory),
        secretsDir: await realpath(config.secretsDir),
      },
      launcher,
    );
  }

  /** Secrets as files in secretsDir (0700), one per id (0600), written atomically. */
  secretsController(): ProcessSecretsController {
    this.secrets ??= new ProcessSecretsController({ secretsDir: this.config.secretsDir });
    return this.secrets;
  }

  namespace(name: string): NamespacedProcessOrchestrator {
    this.assertOpen();
    validateId("namespace", name);
    let namespace = this.namespaces.get(name);
    if (!namespace) {
      namespace = new NamespacedProcessOrchestrator({
        namespace: name,
        environmentId: this.config.environmentId,
        imageDir: this.config.imageDir,
        stateDir: this.config.stateDir,
        scratchRoot: this.config.scratchDirectory,
        logDir: this.config.logDir,
        logRotation: { ...DEFAULT_LOG_ROTATION, ...this.config.logRotation },
        suppressOutput: this.config.suppressOutput ?? false,
        commandWrapper: this.config.commandWrapper ?? [],
        launcher: this.launcher,
        restartBackoff: { ...SERVICE_DEFAULTS.restartBackoff, ...this.config.restartBackoff },
        adoptPollMs: this.config.adoptPollMs ?? 250,
        rolloutTimeoutMs: this.config.rolloutTimeoutMs ?? 120_000,
        ...(this.config.tcpProxy ? { tcpProxy: this.config.tcpProxy } : {}),
        watchBufferSize: this.config.watchBufferSize ?? 10_000,
        claimRunDir: (fullId, owner) => this.claimRunDir(fullId, owner),
        releaseRunDir: (fullId) => this.runDirOwners.delete(fullId),
        assertOpen: () => this.assertOpen(),
        ...(this.config.propagateCrashes ? { onCrash: (event: ServiceEvent, ns: string) => void this.crash(event, ns) } : {}),
      });
      this.namespaces.set(name, namespace);
    }
    return namespace;
  }

  private claimRunDir(fullId: string, owner: { namespace: string; id: string }): void {
    const key = `${owner.namespace}/${owner.id}`;
    const current = this.runDirOwners.get(fullId);
    if (current !== undefined && current !== key) {
      const [namespace, id] = current.split("/");
      throw new ValidationError(
        "service id",
        `"${owner.namespace}-${owner.id}" is already the run directory of service "${id}" in namespace "${namespace}"`,
        owner.id,
      );
    }
    this.runDirOwners.set(fullId, key);
  }

  /** Stops every process (or, with leaveRunning, leaves them for a later instance to adopt). */
  async close(opts: { leaveRunning?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.namespaces.values()].map((ns) => ns.close(opts.leaveRunning ?? false)));
  }

  private async crash(event: ServiceEvent, namespace: string): Promise<void> {
    if (this.crashing) return;
    this.crashing = true;
    process.stderr.write(
      `corral: ${namespace}-${event.serviceId}-${event.processId} crashed (${event.signal}); stopping every process and exiting because propagateCrashes is set\n`,
    );
    try {
      await this.close();
    } finally {
      process.exit(1);
    }
  }

  assertOpen(): void {
    if (this.closed) throw new OrchestratorClosedError();
  }
}

function checkConfig(config: ProcessOrchestratorConfig): ProcessOrchestratorConfig {
  if (typeof config !== "object" || config === null) throw new ValidationError("config", "must be an object");
  if (typeof config.environmentId !== "string" || !ENVIRONMENT_ID.test(config.environmentId)) {
    throw new ValidationError("environmentId", `must match ${ENVIRONMENT_ID.source}`, config.environmentId);
  }
  for (const field of ["imageDir", "scratchDirectory", "secretsDir"] as const) {
    if (typeof config[field] !== "string" || config[field] === "")
      throw new ValidationError(field, "must be a non-empty path", config[field]);
  }
  if (config.stateDir !== undefined && (typeof config.stateDir !== "string" || config.stateDir === "")) {
    throw new ValidationError("stateDir", "must be a non-empty path", config.stateDir);
  }
  if (
    config.commandWrapper !== undefined &&
    (!Array.isArray(config.commandWrapper) || !config.commandWrapper.every((p) => typeof p === "string"))
  ) {
    throw new ValidationError("commandWrapper", "must be an array of strings");
  }
  for (const field of ["adoptPollMs", "watchBufferSize", "rolloutTimeoutMs"] as const) {
    const value = config[field];
    if (value !== undefined && (!Number.isInteger(value) || value < 1))
      throw new ValidationError(field, "must be a positive integer", value);
  }
  if (config.tcpProxy !== undefined) {
    if (typeof config.tcpProxy !== "object" || config.tcpProxy === null || isIP(config.tcpProxy.listenAddr) === 0) {
      throw new ValidationError("tcpProxy.listenAddr", 'must be an IP address such as "127.0.0.1"', config.tcpProxy?.listenAddr);
    }
  }
  if (config.launcher !== undefined && !["auto", "direct", "systemd", "cgroup"].includes(config.launcher)) {
    throw new ValidationError("launcher", 'must be "auto", "direct", "systemd" or "cgroup"', config.launcher);
  }
  if (config.restartBackoff !== undefined) {
    const result = restartBackoffSchema.safeParse(config.restartBackoff);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      throw new ValidationError(["restartBackoff", ...issue.path.map(String)].join("."), issue.message);
    }
  }
  const rotation = config.logRotation;
  if (rotation !== undefined) {
    if (rotation.maxBytes !== undefined && (!Number.isInteger(rotation.maxBytes) || rotation.maxBytes < 1))
      throw new ValidationError("logRotation.maxBytes", "must be a positive integer", rotation.maxBytes);
    if (rotation.files !== undefined && (!Number.isInteger(rotation.files) || rotation.files < 1))
      throw new ValidationError("logRotation.files", "must be a positive integer", rotation.files);
  }
  return config;
}
