import { ValidationError } from "../contract/errors.js";
import { CpuLimit, DiskLimit, MemoryLimit } from "../contract/limits.js";
import type { ServiceAssignments, ServiceConfig } from "../contract/types.js";
import { validateServiceConfig } from "../contract/validation.js";
import { SHELL, shellQuote, shellScript } from "./shell-command.js";
import { type TemplateValues, checkArgTemplate, hasPlaceholder, interpolateArgs, volumeReferences } from "./templates.js";
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
  for (const [name, value] of Object.entries(spec.env)) {
    const problem = checkArgTemplate(value, scope);
    if (problem !== undefined) throw new ValidationError(`env.${name}`, problem);
  }
  if (spec.shell !== undefined) {
    const problem = checkArgTemplate(spec.shell, scope);
    if (problem !== undefined) throw new ValidationError("shell", problem);
  }
  const template = [...spec.args];
  const fullName = `${ctx.namespace}-${ctx.serviceId}`;
  const shell = spec.shell === undefined ? undefined : shellScript(spec.shell, spec.stopSignal);
  const values = (a: ServiceAssignments): TemplateValues => ({
    fullName,
    processIndex: a.processIndex,
    listenAddrs: a.listenAddrs,
    ...(a.socketDirs ? { socketDirs: a.socketDirs } : {}),
    ...(a.serviceAddrs ? { serviceAddrs: a.serviceAddrs } : {}),
    ...(a.volumes ? { volumes: a.volumes } : {}),
    ...(a.scratchDirectory !== undefined ? { scratchDirectory: a.scratchDirectory } : {}),
    ...(a.secretsDirectory !== undefined ? { secretsDirectory: a.secretsDirectory } : {}),
  });
  // Values with placeholders are filled in per process, as args are; the rest stay literal.
  const templated = Object.entries(spec.env).filter(([, value]) => hasPlaceholder(value));
  const literal = Object.fromEntries(Object.entries(spec.env).filter(([, value]) => !hasPlaceholder(value)));
  const config: ServiceConfig = {
    image: spec.image ?? spec.command ?? (shell !== undefined ? SHELL : ""),
    // A shell line is one argument of sh -c; the values put in it are quoted so a path with a blank stays one word.
    args: (a) =>
      shell === undefined ? interpolateArgs(template, values(a)) : ["-c", interpolateArgs([shell], quotedValues(values(a)))[0]!],
    // The port Prometheus scrapes needs a TCP address per process, whatever else is exposed.
    ports: spec.ports.map((p) => (p.name === spec.metrics?.port ? { ...p, tcpPerProcess: true } : { ...p })),
    // A stopped service keeps its scale for `corral start`; meanwhile it runs no process.
    scale: runningScale(spec),
    labels: { ...spec.labels },
    ...(spec.restartedAt !== undefined ? { annotations: { "corral.dev/restarted-at": spec.restartedAt } } : {}),
    env: literal,
  };
  if (templated.length > 0) {
    config.envTemplate = (a) => {
      const v = values(a);
      return Object.fromEntries(templated.map(([name, value]) => [name, interpolateArgs([value], v)[0]!]));
    };
  }
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
  if (spec.liveness !== undefined) config.liveness = structuredClone(spec.liveness);
  if (spec.startup !== undefined) config.startup = structuredClone(spec.startup);
  if (spec.restartLimit !== undefined) config.restartLimit = { ...spec.restartLimit };
  if (spec.restart !== undefined) config.restartPolicy = spec.restart;
  if (spec.restartBackoff !== undefined) config.restartBackoff = { ...spec.restartBackoff };
  if (spec.stopSignal !== undefined) config.stopSignal = spec.stopSignal;
  if (spec.stopGracePeriodMs !== undefined) config.terminationGracePeriodMs = spec.stopGracePeriodMs;
  if (spec.drainMs !== undefined) config.drainMs = spec.drainMs;
  if (spec.balance !== undefined) config.balance = spec.balance;
  if (spec.hooks !== undefined) config.hooks = structuredClone(spec.hooks);
  if (spec.stop !== undefined) config.stop = structuredClone(spec.stop);
  if (spec.forking !== undefined) config.forking = spec.forking;
  if (spec.pidFile !== undefined) config.pidFile = spec.pidFile;
  validateServiceConfig(config);
  return config;
}

function quotedValues(values: TemplateValues): TemplateValues {
  const quote = (map: Record<string, string> | undefined) =>
    map && Object.fromEntries(Object.entries(map).map(([key, value]) => [key, shellQuote(value)]));
  const quoted: TemplateValues = { ...values, listenAddrs: quote(values.listenAddrs)! };
  if (values.socketDirs) quoted.socketDirs = quote(values.socketDirs)!;
  if (values.serviceAddrs) quoted.serviceAddrs = quote(values.serviceAddrs)!;
  if (values.volumes) quoted.volumes = quote(values.volumes)!;
  if (values.scratchDirectory !== undefined) quoted.scratchDirectory = shellQuote(values.scratchDirectory);
  if (values.secretsDirectory !== undefined) quoted.secretsDirectory = shellQuote(values.secretsDirectory);
  return quoted;
}

/** How many processes a spec runs: its scale, or none while it is stopped (its scale is kept for `corral start`). */
export function runningScale(spec: Pick<ServiceSpec, "scale" | "stopped">): number {
  return spec.stopped === true ? 0 : spec.scale;
}

/** The volumes a service uses: those it lists and those its args, shell line and env values name with %V:, each once. */
export function usedVolumes(
  spec: Pick<ServiceSpec, "args" | "volumes"> & { env?: Record<string, string>; shell?: string | undefined },
): string[] {
  const templates = [...spec.args, ...(spec.shell !== undefined ? [spec.shell] : []), ...Object.values(spec.env ?? {})];
  return [...new Set([...(spec.volumes ?? []), ...templates.flatMap(volumeReferences)])];
}
