// What a process runs, built from a service's config: one LaunchSpec per
// process, and the hash that tells a running process from a changed one. The
// args function sees every peer's address, so a spec depends on the scale it
// was built for: a process is compared with the spec at the scale it was
// launched for (as the Kubernetes backend compares each pod with the template
// of the scale it records), so a change of scale alone replaces nothing.
import { lstatSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import { withPeerAddrs } from "../contract/assignments.js";
import { ValidationError } from "../contract/errors.js";
import { volumeEnvName } from "../contract/rules.js";
import type { ServiceConfig } from "../contract/types.js";
import { type NormalizedServiceConfig, evaluateArgs, evaluateEnvTemplate, validateServiceConfig } from "../contract/validation.js";
import { existingDirectory } from "../util/directory.js";
import { isErrno } from "../util/errno.js";
import { validateExecutable } from "../util/executable.js";
import { sha256Hex } from "../util/hash.js";
import {
  type ServicePaths,
  type StateLayout,
  listenAddresses,
  servicePaths,
  serviceAddresses,
  socketDirectories,
  socketDirProblem,
  secretsDirectory,
  volumePath,
} from "./run-dir.js";
import { type UserNeed, checkUserAccess } from "./user-access.js";
import { type ServiceUser, describeUser, serviceRunAs } from "./users.js";
import type { SecretSource } from "./secret-source.js";

/** Everything that decides what a process runs; two equal specs are the same process. */
export interface LaunchSpec {
  /** The image path after resolution against imageDir. */
  image: string;
  args: string[];
  env: Record<string, string>;
  /** Port name → socket path: where the process is expected to listen. */
  listenAddrs: Record<string, string>;
  /** The command wrapper after interpolation, or empty. */
  wrapper: string[];
  memoryLimit?: string;
  cpuLimit?: string;
  scratchDirectory?: string;
  /** The readiness probe, serialized: a changed probe is a changed process. */
  readiness?: string;
  liveness?: string;
  startup?: string;
  /** The crash-loop breaker: a changed limit is a fresh count. */
  restartLimit?: string;
  workingDirectory?: string;
  /** Who the process runs as, when that is not corral's own user (else absent): files made for it (sockets, scratch, secrets) belong to this uid/gid. */
  user?: ServiceUser;
  /** Port name → the process's socket directory, for ports with socketDir. */
  socketDirs?: Record<string, string>;
  /** Volume name → its directory. */
  volumes?: Record<string, string>;
  /** Where the process finds its secret files (also in env as CORRAL_SECRETS_DIR). */
  secretsDirectory?: string;
  /** Ids of the secrets delivered as files, sorted. */
  secretFiles?: string[];
  /** Variable name → secret id; the values are added at launch, never kept in the spec. */
  secretEnv?: Record<string, string>;
  /** Hooks, stop command and forking, serialized: a changed one is a changed process. */
  lifecycle?: string;
  /** Keyed digest of the secrets' contents (secret-source.ts): a changed secret is a changed process. Set when the service uses any. */
  secretsDigest?: string;
}

/** Which config a process was launched with: its spec's hash and the scale the spec was built for. */
export interface SpecStamp {
  specHash: string;
  /** Absent in PID records of an older corral: the process is then compared at the desired scale. */
  scale?: number;
}

/** What every spec of an orchestrator's namespace shares. */
export interface SpecScope {
  environmentId: string;
  namespace: string;
  commandWrapper: readonly string[];
  /** Where the services' secrets are read. */
  secrets: SecretSource;
}

export function specHash(spec: LaunchSpec): string {
  // 32 hex digits, as PID records of earlier versions carry.
  return sha256Hex(spec).slice(0, 32);
}

/** The launch specs of one config of a service, per scale, each built once. */
export class ServiceSpecs {
  readonly #specs = new Map<number, LaunchSpec[]>();
  readonly #hashes = new Map<number, string[]>();

  constructor(
    private readonly scope: SpecScope,
    readonly id: string,
    readonly config: NormalizedServiceConfig,
    /** The resolved image (see resolveImage). */
    readonly image: string,
    readonly paths: ServicePaths,
    /** Who the processes run as when not as corral itself (see serviceRunAs). */
    readonly runAs: ServiceUser | undefined,
    /** Volume name → its directory. */
    readonly volumes: Readonly<Record<string, string>>,
    /** The digest of the secrets' contents when the config was taken; undefined when the service uses none. */
    readonly secretsDigest?: string,
  ) {}

  /**
   * Checks a ServiceConfig and everything it names (the image, the working
   * directory, the args at its scale) before anything is written or started.
   */
  static async prepare(scope: SpecScope & StateLayout & { imageDir: string }, id: string, input: ServiceConfig): Promise<ServiceSpecs> {
    const config = validateServiceConfig(input);
    const image = resolveImage(scope.imageDir, config.image);
    if (config.workingDirectory) await existingDirectory("workingDirectory", config.workingDirectory);
    const runAs = serviceRunAs(config);
    const paths = servicePaths(scope, scope.namespace, id, { disk: config.disk, otherUser: runAs !== undefined });
    const volumes = Object.fromEntries(config.volumes.map((name) => [name, volumePath(scope.volumeDirectory, name)]));
    for (const [name, path] of Object.entries(volumes)) checkVolume(name, path, runAs);
    // A secret that is not set is not refused here: its process fails to spawn, naming it, until it is.
    const secretIds = secretIdsOf(config);
    const secretsDigest = secretIds.length > 0 ? await scope.secrets.digest(await scope.secrets.read(secretIds)) : undefined;
    const specs = new ServiceSpecs(scope, id, config, image, paths, runAs, volumes, secretsDigest);
    const built = specs.at(config.scale); // a throwing or malformed args function is refused here
    if (runAs) await checkUserAccess(runAs, userNeeds(scope, specs, built));
    return specs;
  }

  /** One spec per process of the service at `scale`; throws a ValidationError when the args function refuses. */
  at(scale: number): LaunchSpec[] {
    let specs = this.#specs.get(scale);
    if (!specs) {
      specs = this.#build(scale);
      this.#specs.set(scale, specs);
    }
    return specs;
  }

  /** The hash of process `index` at `scale`; "" when the args cannot be evaluated at that scale (the process is stale). */
  hashAt(scale: number, index: number): string {
    let hashes = this.#hashes.get(scale);
    if (!hashes) {
      try {
        hashes = this.at(scale).map(specHash);
      } catch {
        hashes = []; // an args function that refuses this scale: nothing launched for it is current
      }
      this.#hashes.set(scale, hashes);
    }
    return hashes[index] ?? "";
  }

  /** Whether process `index`, launched with `stamp`, runs this config (its scale aside). */
  isCurrent(stamp: SpecStamp, index: number, desiredScale: number): boolean {
    return stamp.specHash !== "" && stamp.specHash === this.hashAt(stamp.scale ?? desiredScale, index);
  }

  #build(scale: number): LaunchSpec[] {
    const { config, paths, scope, runAs, volumes } = this;
    for (let i = 0; i < scale; i++) {
      for (const port of config.ports) {
        const problem = socketDirProblem(paths.socketHome, port, i);
        if (problem) throw new ValidationError(`ports.${port.name}.socketFile`, problem, port.socketFile);
      }
    }
    const peerAddrs = Array.from({ length: scale }, (_, i) => listenAddresses(paths.socketHome, config.ports, i));
    const hasVolumes = Object.keys(volumes).length > 0;
    return peerAddrs.map((listenAddrs, processIndex) => {
      const socketDirs = socketDirectories(paths.socketHome, config.ports, processIndex);
      const hasSocketDirs = Object.keys(socketDirs).length > 0;
      const secretsDir = config.secrets.length > 0 ? secretsDirectory(paths.runDir, processIndex) : undefined;
      const assignments = () =>
        withPeerAddrs(
          {
            processIndex,
            listenAddrs: { ...listenAddrs },
            serviceAddrs: serviceAddresses(paths.runDir, config.ports),
            ...(paths.scratchDir ? { scratchDirectory: paths.scratchDir } : {}),
            ...(hasSocketDirs ? { socketDirs: { ...socketDirs } } : {}),
            ...(hasVolumes ? { volumes: { ...volumes } } : {}),
            ...(secretsDir ? { secretsDirectory: secretsDir } : {}),
          },
          peerAddrs,
        );
      const args = evaluateArgs(config, assignments());
      const spec: LaunchSpec = {
        image: this.image,
        args,
        env: {
          // What a login as the user would set; the service's own env wins.
          ...(runAs?.name ? { USER: runAs.name, LOGNAME: runAs.name, ...(runAs.home ? { HOME: runAs.home } : {}) } : {}),
          ...config.env,
          ...evaluateEnvTemplate(config, assignments()),
          // Who the process is, as Kubernetes' downward API would tell it; also lets
          // an operator find every process of an environment in /proc/*/environ.
          CORRAL_ENVIRONMENT_ID: scope.environmentId,
          CORRAL_NAMESPACE: scope.namespace,
          CORRAL_SERVICE_ID: this.id,
          CORRAL_PROCESS_INDEX: String(processIndex),
          ...(paths.scratchDir ? { CORRAL_SCRATCH_DIR: paths.scratchDir } : {}),
          ...Object.fromEntries(Object.entries(volumes).map(([name, path]) => [volumeEnvName(name), path])),
          ...(secretsDir ? { CORRAL_SECRETS_DIR: secretsDir } : {}),
        },
        listenAddrs,
        wrapper: scope.commandWrapper.map((part, i) => (i === 0 ? part : interpolate(part, paths.fullId, listenAddrs))),
      };
      if (config.memoryLimit) spec.memoryLimit = config.memoryLimit.toString();
      if (config.cpuLimit) spec.cpuLimit = config.cpuLimit.toString();
      if (config.readiness) spec.readiness = JSON.stringify(config.readiness);
      // Only when set: a service without them keeps the hash (and processes) it had.
      if (config.liveness) spec.liveness = JSON.stringify(config.liveness);
      if (config.startup) spec.startup = JSON.stringify(config.startup);
      if (config.restartLimit) spec.restartLimit = JSON.stringify(config.restartLimit);
      if (config.workingDirectory) spec.workingDirectory = config.workingDirectory;
      if (paths.scratchDir) spec.scratchDirectory = paths.scratchDir;
      if (runAs) spec.user = runAs;
      if (hasSocketDirs) spec.socketDirs = socketDirs;
      if (hasVolumes) spec.volumes = { ...volumes };
      if (secretsDir) {
        spec.secretsDirectory = secretsDir;
        spec.secretFiles = [...config.secrets].sort();
      }
      if (Object.keys(config.secretEnv).length > 0) spec.secretEnv = { ...config.secretEnv };
      if (this.secretsDigest !== undefined) spec.secretsDigest = this.secretsDigest;
      if (Object.keys(config.hooks).length > 0 || config.stop || config.forking)
        spec.lifecycle = JSON.stringify({ hooks: config.hooks, stop: config.stop, forking: config.forking, pidFile: config.pidFile });
      return spec;
    });
  }
}

function secretIdsOf(config: NormalizedServiceConfig): string[] {
  return [...new Set([...config.secrets, ...Object.values(config.secretEnv)])].sort();
}

/**
 * A volume that exists must be a directory, and belong to the user the
 * service runs as: corral never takes one over from another user (its data
 * would become someone else's); it creates missing ones for the service's user.
 */
function checkVolume(name: string, path: string, runAs: ServiceUser | undefined): void {
  let stats;
  try {
    stats = lstatSync(path);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return;
    throw error;
  }
  if (!stats.isDirectory()) throw new ValidationError("volumes", `volume ${name}: ${path} is not a directory`, name);
  if (runAs && stats.uid !== runAs.uid) {
    throw new ValidationError(
      "volumes",
      `volume ${name} (${path}) belongs to uid ${stats.uid}, not to ${describeUser(runAs)} the service runs as: chown -R ${runAs.uid}:${runAs.gid} ${path}, or remove the volume (corral down --volumes)`,
      name,
    );
  }
}

/** What a service run as another user must be able to reach: every directory corral puts its files in, and its program. */
function userNeeds(scope: StateLayout, specs: ServiceSpecs, built: readonly LaunchSpec[]): UserNeed[] {
  const needs: UserNeed[] = [
    { what: "image", path: specs.image, execute: true },
    // The run directory and what corral makes below (the run dir 0711, sockets/ owned by the user) are corral's to set up.
    { what: "run directory", path: scope.stateDir },
  ];
  if (specs.config.workingDirectory) needs.push({ what: "working directory", path: specs.config.workingDirectory });
  if (specs.paths.scratchDir) needs.push({ what: "scratch directory", path: scope.scratchDirectory });
  for (const [name, path] of Object.entries(specs.volumes)) needs.push({ what: `volume ${name}`, path });
  // Sockets too long for the run directory live in the temp dir.
  const outside = new Set(
    built.flatMap((spec) => [...Object.values(spec.listenAddrs), ...Object.values(spec.socketDirs ?? {})]).map((path) => dirname(path)),
  );
  const { runDir } = specs.paths;
  for (const dir of outside) if (dir !== runDir && !dir.startsWith(runDir + sep)) needs.push({ what: "socket", path: dir });
  return needs;
}

/**
 * The command wrapper's placeholders: `%N` is `<namespace>-<id>`, `%P:<port>`
 * the process's listen address for that port. Longer port names are replaced
 * first so `%P:http` does not eat the start of `%P:http-admin`.
 */
export function interpolate(part: string, fullId: string, listenAddrs: Record<string, string>): string {
  let out = part.replaceAll("%N", fullId);
  const names = Object.keys(listenAddrs).sort((a, b) => b.length - a.length);
  for (const name of names) out = out.replaceAll(`%P:${name}`, listenAddrs[name]!);
  return out;
}

/** The argv to exec: the wrapper (if any) followed by the image and its args, as the seed builds it. */
export function commandLine(spec: LaunchSpec): { program: string; args: string[] } {
  if (spec.wrapper.length > 0) return { program: spec.wrapper[0]!, args: [...spec.wrapper.slice(1), spec.image, ...spec.args] };
  return { program: spec.image, args: spec.args };
}

/**
 * The absolute path of a service's image: a relative one must stay inside
 * imageDir. Its interpreter is not checked: a missing one is a spawn failure,
 * reported as an event and retried, like any other.
 */
export function resolveImage(imageDir: string, image: string): string {
  let path: string;
  if (isAbsolute(image)) path = normalize(image);
  else {
    path = normalize(join(imageDir, image));
    if (!path.startsWith(imageDir + sep)) throw new ValidationError("image", "a relative image must name a file inside imageDir", image);
  }
  return validateExecutable("image", path, { value: image });
}
