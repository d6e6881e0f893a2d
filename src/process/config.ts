// The ProcessOrchestrator's config: its schema (what a caller may pass), and the
// resolved config every part of the backend reads (defaults filled in from
// src/contract/defaults.ts, directories created and made real paths).
import { createHash } from "node:crypto";
import { chmod, mkdir, realpath } from "node:fs/promises";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "../util/zod.js";
import { PROCESS_ORCHESTRATOR_DEFAULTS, SERVICE_DEFAULTS } from "../contract/defaults.js";
import { ValidationError } from "../contract/errors.js";
import type { RestartBackoff } from "../contract/types.js";
import { restartBackoffSchema } from "../contract/validation.js";
import { existingDirectory } from "../util/directory.js";
import { selectLauncher } from "./launch/select.js";
import type { Launcher, LauncherKind } from "./launch/types.js";
import type { LogRotation } from "./logs.js";

export interface TcpProxyConfig {
  listenAddr: string;
  prometheusServiceDiscoveryDir?: string;
  ports?: "all" | "exposed";
}

export interface ProcessOrchestratorConfig {
  /** Where relative images are found. */
  imageDir: string;
  /** Names this deployment: two orchestrators with the same id and state dir manage the same processes. */
  environmentId: string;
  /** Parent of the services' scratch directories. */
  scratchDirectory: string;
  secretsDir: string;
  /** Parent of the named volumes (`ServiceConfig.volumes`), which outlive every service. Default: `<stateDir>/volumes`. */
  volumeDirectory?: string;
  /** PID files, sockets and service manifests. Default: `<os tmpdir>/corral-<environmentId>`. */
  stateDir?: string;
  /** Do not echo children's output on our stdout/stderr. */
  suppressOutput?: boolean;
  /** Program and arguments put before every image; `%N` and `%P:<port>` are interpolated. */
  commandWrapper?: string[];
  /** A child killed by SIGABRT/SIGBUS/SIGSEGV/SIGTRAP/SIGILL stops every process and exits this host with status 1. */
  propagateCrashes?: boolean;
  /**
   * TCP listeners on `listenAddr`: with `ports: "all"` (the default, as the seed
   * does) a proxy per process for every port, and every service address over
   * TCP too; with `"exposed"` only ports with `expose` (their service address)
   * or `tcpPerProcess` (a proxy per process) get one.
   */
  tcpProxy?: TcpProxyConfig;
  /** How processes are started so their limits hold. auto: systemd where a user manager runs, else cgroups where writable, else direct. */
  launcher?: "auto" | LauncherKind;
  /** Restart back-off for every service (each service may override it). Default: SERVICE_DEFAULTS.restartBackoff. */
  restartBackoff?: RestartBackoff;
  /** Where process logs go. Default: `<stateDir>/logs`. */
  logDir?: string;
  /** Log rotation by size. Default: PROCESS_ORCHESTRATOR_DEFAULTS.logRotation (10 MiB x 5 files). */
  logRotation?: Partial<LogRotation>;
  /** How long a rolling change waits for each replacement to come online. Default: PROCESS_ORCHESTRATOR_DEFAULTS.rolloutTimeoutMs. */
  rolloutTimeoutMs?: number;
  /** How often a process adopted from an earlier instance is checked for exit. Default: PROCESS_ORCHESTRATOR_DEFAULTS.adoptPollMs. */
  adoptPollMs?: number;
  /** Events a watcher may fall behind before it is resynchronised with a snapshot. Default: PROCESS_ORCHESTRATOR_DEFAULTS.watchBufferSize. */
  watchBufferSize?: number;
}

/** The config every part of the process backend reads: nothing left to default, every directory a real path that exists. */
export interface ResolvedProcessConfig {
  imageDir: string;
  environmentId: string;
  /**
   * Names this orchestrator's machine-wide objects (its cgroups):
   * `<environmentId>-<hash of the state dir's real path>`. Two projects whose
   * folders share a name get the same environmentId; their state dirs differ,
   * so neither can kill the other's processes, while a later orchestrator on
   * the same state dir finds (adopts) the same groups.
   */
  hostScope: string;
  scratchDirectory: string;
  secretsDir: string;
  volumeDirectory: string;
  stateDir: string;
  logDir: string;
  suppressOutput: boolean;
  commandWrapper: readonly string[];
  propagateCrashes: boolean;
  tcpProxy?: TcpProxyConfig;
  /** The launcher chosen at create ("auto" resolved). */
  launcher: LauncherKind;
  restartBackoff: Required<RestartBackoff>;
  logRotation: LogRotation;
  rolloutTimeoutMs: number;
  adoptPollMs: number;
  watchBufferSize: number;
}

const ENVIRONMENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const POSITIVE_INTEGER = "must be a positive integer";
const path = z.string({ error: "must be a non-empty path" }).min(1, { error: "must be a non-empty path" });
const positiveInteger = z.number({ error: POSITIVE_INTEGER }).int({ error: POSITIVE_INTEGER }).min(1, { error: POSITIVE_INTEGER });

const configSchema = z.object(
  {
    imageDir: path,
    environmentId: z
      .string({ error: `must match ${ENVIRONMENT_ID.source}` })
      .regex(ENVIRONMENT_ID, { error: `must match ${ENVIRONMENT_ID.source}` }),
    scratchDirectory: path,
    secretsDir: path,
    volumeDirectory: path.optional(),
    stateDir: path.optional(),
    suppressOutput: z.boolean({ error: "must be true or false" }).optional(),
    commandWrapper: z.array(z.string(), { error: "must be an array of strings" }).optional(),
    propagateCrashes: z.boolean({ error: "must be true or false" }).optional(),
    tcpProxy: z
      .object(
        {
          listenAddr: z.string().refine((address) => isIP(address) !== 0, { error: 'must be an IP address such as "127.0.0.1"' }),
          prometheusServiceDiscoveryDir: path.optional(),
          ports: z.enum(["all", "exposed"], { error: 'must be "all" or "exposed"' }).optional(),
        },
        { error: 'must be an object with listenAddr, an IP address such as "127.0.0.1"' },
      )
      .optional(),
    launcher: z.enum(["auto", "direct", "systemd", "cgroup"], { error: 'must be "auto", "direct", "systemd" or "cgroup"' }).optional(),
    restartBackoff: restartBackoffSchema.optional(),
    logDir: path.optional(),
    logRotation: z.object({ maxBytes: positiveInteger.optional(), files: positiveInteger.optional() }).optional(),
    rolloutTimeoutMs: positiveInteger.optional(),
    adoptPollMs: positiveInteger.optional(),
    watchBufferSize: positiveInteger.optional(),
  },
  { error: "must be an object" },
);

// The schema and the documented interface accept exactly the same configs.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesInterface: Same<z.input<typeof configSchema>, ProcessOrchestratorConfig> = true;
void schemaMatchesInterface;

/**
 * Checks a config (ValidationError naming the first bad field), fills in every
 * default, picks the launcher and prepares the directories, in that order: a
 * refused config or an unusable launcher writes nothing.
 */
export async function resolveProcessConfig(
  input: ProcessOrchestratorConfig,
): Promise<{ config: ResolvedProcessConfig; launcher: Launcher }> {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(issue.path.length === 0 ? "config" : issue.path.map(String).join("."), issue.message);
  }
  const config = parsed.data;
  const defaults = PROCESS_ORCHESTRATOR_DEFAULTS;
  const stateDir = resolve(config.stateDir ?? join(tmpdir(), `corral-${config.environmentId}`));
  const imageDir = await existingDirectory("imageDir", config.imageDir);
  const launcher = await selectLauncher(config.launcher ?? defaults.launcher);
  await mkdir(stateDir, { recursive: true });
  const logDir = resolve(config.logDir ?? join(stateDir, "logs"));
  await mkdir(logDir, { recursive: true });
  await mkdir(config.scratchDirectory, { recursive: true });
  const sdDir = config.tcpProxy?.prometheusServiceDiscoveryDir;
  if (sdDir) await mkdir(sdDir, { recursive: true });
  await mkdir(config.secretsDir, { recursive: true, mode: 0o700 });
  await chmod(config.secretsDir, 0o700);
  const realStateDir = await realpath(stateDir);
  const resolved: ResolvedProcessConfig = {
    imageDir,
    environmentId: config.environmentId,
    hostScope: hostScopeOf(config.environmentId, realStateDir),
    stateDir: realStateDir,
    logDir: await realpath(logDir),
    scratchDirectory: await realpath(config.scratchDirectory),
    secretsDir: await realpath(config.secretsDir),
    // Made when a service first uses a volume (service-dirs.ts): nothing is written for a feature nobody uses.
    volumeDirectory: config.volumeDirectory ? resolve(config.volumeDirectory) : join(await realpath(stateDir), "volumes"),
    suppressOutput: config.suppressOutput ?? false,
    commandWrapper: config.commandWrapper ?? [],
    propagateCrashes: config.propagateCrashes ?? false,
    ...(config.tcpProxy ? { tcpProxy: config.tcpProxy } : {}),
    launcher: launcher.kind,
    restartBackoff: withDefaults<Required<RestartBackoff>>(SERVICE_DEFAULTS.restartBackoff, config.restartBackoff),
    logRotation: withDefaults<LogRotation>(defaults.logRotation, config.logRotation),
    rolloutTimeoutMs: config.rolloutTimeoutMs ?? defaults.rolloutTimeoutMs,
    adoptPollMs: config.adoptPollMs ?? defaults.adoptPollMs,
    watchBufferSize: config.watchBufferSize ?? defaults.watchBufferSize,
  };
  return { config: resolved, launcher };
}

/** See ResolvedProcessConfig.hostScope. */
export function hostScopeOf(environmentId: string, realStateDir: string): string {
  return `${environmentId}-${createHash("sha256").update(realStateDir).digest("hex").slice(0, 10)}`;
}

/** `defaults` overridden by the fields `given` sets (an explicit undefined keeps the default). */
export function withDefaults<T extends object>(defaults: Readonly<T>, given: Partial<T> | undefined): T {
  const set = Object.entries(given ?? {}).filter(([key, value]) => value !== undefined && Object.hasOwn(defaults, key));
  return { ...defaults, ...Object.fromEntries(set) };
}
