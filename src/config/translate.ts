import { ValidationError } from "../contract/errors.js";
import { CpuLimit, DiskLimit, MemoryLimit } from "../contract/limits.js";
import type { ServiceConfig } from "../contract/types.js";
import { validateServiceConfig } from "../contract/validation.js";
import { checkArgTemplate, interpolateArgs, volumeReferences } from "./templates.js";
import type { ServiceSpec } from "./types.js";

export interface TranslateContext {
  namespace: string;
  serviceId: string;
}

/**
 * The contract's ServiceConfig for a spec: args become a function of the
 * process's assignments, sizes become limits, lifecycle fields take the
 * contract's names. Checked with validateServiceConfig, so a spec that came
 * over HTTP instead of from a file fails with the same errors ensureService
 * would give, before anything is started.
 */
export function toServiceConfig(spec: ServiceSpec, ctx: TranslateContext): ServiceConfig {
  const scope = { ports: spec.ports, scratch: spec.disk !== undefined && spec.disk !== false };
  for (const [i, arg] of spec.args.entries()) {
    const problem = checkArgTemplate(arg, scope);
    if (problem !== undefined) throw new ValidationError(`args[${i}]`, problem);
  }
  const template = [...spec.args];
  const fullName = `${ctx.namespace}-${ctx.serviceId}`;
  const config: ServiceConfig = {
    image: spec.image ?? spec.command ?? "",
    args: (a) =>
      interpolateArgs(template, {
        fullName,
        processIndex: a.processIndex,
        listenAddrs: a.listenAddrs,
        ...(a.socketDirs ? { socketDirs: a.socketDirs } : {}),
        ...(a.volumes ? { volumes: a.volumes } : {}),
        ...(a.scratchDirectory !== undefined ? { scratchDirectory: a.scratchDirectory } : {}),
        ...(a.secretsDirectory !== undefined ? { secretsDirectory: a.secretsDirectory } : {}),
      }),
    ports: spec.ports.map((p) => ({ ...p })),
    scale: spec.scale,
    labels: { ...spec.labels },
    ...(spec.restartedAt !== undefined ? { annotations: { "corral.dev/restarted-at": spec.restartedAt } } : {}),
    env: { ...spec.env },
  };
  const volumes = usedVolumes(spec);
  if (volumes.length > 0) config.volumes = volumes;
  if (spec.user !== undefined) config.user = spec.user;
  if (spec.group !== undefined) config.group = spec.group;
  if (spec.secrets !== undefined && spec.secrets.length > 0) config.secrets = [...spec.secrets];
  if (spec.secretEnv !== undefined && Object.keys(spec.secretEnv).length > 0) config.secretEnv = { ...spec.secretEnv };
  if (spec.workingDirectory !== undefined) config.workingDirectory = spec.workingDirectory;
  if (spec.memory !== undefined) config.memoryLimit = MemoryLimit.parse(spec.memory);
  if (spec.cpu !== undefined) config.cpuLimit = CpuLimit.parse(spec.cpu);
  if (spec.disk !== undefined && spec.disk !== false) {
    config.disk = true;
    if (typeof spec.disk === "string") config.diskLimit = DiskLimit.parse(spec.disk);
  }
  if (spec.readiness !== undefined) {
    const { http, exec, ...rest } = spec.readiness;
    config.readiness = { ...rest, ...(http && { http: { ...http } }), ...(exec && { exec: [...exec] }) };
  }
  if (spec.restart !== undefined) config.restartPolicy = spec.restart;
  if (spec.restartBackoff !== undefined) config.restartBackoff = { ...spec.restartBackoff };
  if (spec.stopSignal !== undefined) config.stopSignal = spec.stopSignal;
  if (spec.stopGracePeriodMs !== undefined) config.terminationGracePeriodMs = spec.stopGracePeriodMs;
  if (spec.hooks !== undefined) config.hooks = structuredClone(spec.hooks);
  if (spec.stop !== undefined) config.stop = structuredClone(spec.stop);
  if (spec.forking !== undefined) config.forking = spec.forking;
  if (spec.pidFile !== undefined) config.pidFile = spec.pidFile;
  validateServiceConfig(config);
  return config;
}

/** The volumes a service uses: those it lists and those its args name with %V:, each once. */
export function usedVolumes(spec: Pick<ServiceSpec, "args" | "volumes">): string[] {
  return [...new Set([...(spec.volumes ?? []), ...spec.args.flatMap(volumeReferences)])];
}
