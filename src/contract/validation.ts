import { z } from "../util/zod.js";
import { SERVICE_DEFAULTS } from "./defaults.js";
import { ValidationError } from "./errors.js";
import { CpuLimit, DiskLimit, MemoryLimit } from "./limits.js";
import { type HookName, type LifecycleHook, lifecycleHooksSchema, normalizeHook, pidFileSchema, stopCommandSchema } from "./lifecycle.js";
import {
  ID_RULE,
  absolutePath,
  accountSchema,
  balanceSchema,
  ENV_SECRET_OVERLAP_RULE,
  envSecretOverlap,
  envNameSchema,
  envValueSchema,
  idSchema,
  labelKeySchema,
  labelValueSchema,
  nonNegativeInt,
  portSchema,
  readinessSchema,
  restartBackoffSchema,
  restartPolicySchema,
  scaleSchema,
  secretEnvSchema,
  secretIdsSchema,
  signalSchema,
  uniquePortNames,
  validationErrorOf,
  volumeNamesSchema,
} from "./rules.js";
import type { LivenessProbe, RestartLimit, StartupProbe } from "./health.js";
import { livenessSchema, probePortProblems, restartLimitSchema, startupSchema } from "./probe-rules.js";
import type { BalancePolicy, ReadinessProbe, RestartPolicy, ServiceAssignments, ServiceConfig, ServicePort } from "./types.js";

export { ID_MAX_LENGTH, ID_PATTERN, restartBackoffSchema } from "./rules.js";

export function validateId(field: string, value: unknown): string {
  const result = idSchema.safeParse(value);
  if (!result.success) throw new ValidationError(field, ID_RULE, value);
  return result.data;
}

export { SERVICE_DEFAULTS } from "./defaults.js";

export interface NormalizedReadinessProbe extends ReadinessProbe {
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
}

export type NormalizedLivenessProbe = LivenessProbe &
  Required<Pick<LivenessProbe, "periodMs" | "timeoutMs" | "failureThreshold" | "initialDelayMs">>;
export type NormalizedStartupProbe = StartupProbe & Required<Pick<StartupProbe, "periodMs" | "timeoutMs" | "deadlineMs">>;
export type NormalizedRestartLimit = Required<RestartLimit>;

/** A ServiceConfig that passed validation, with every default filled in. */
export type NormalizedServiceConfig = Omit<
  ServiceConfig,
  | "args"
  | "ports"
  | "disk"
  | "labels"
  | "env"
  | "secrets"
  | "secretEnv"
  | "restartPolicy"
  | "readiness"
  | "liveness"
  | "startup"
  | "restartLimit"
  | "stopSignal"
  | "terminationGracePeriodMs"
  | "drainMs"
  | "balance"
  | "volumes"
  | "hooks"
> & {
  args: (assignments: ServiceAssignments) => string[];
  ports: ServicePort[];
  disk: boolean;
  labels: Record<string, string>;
  env: Record<string, string>;
  secrets: string[];
  secretEnv: Record<string, string>;
  restartPolicy: RestartPolicy;
  readiness?: NormalizedReadinessProbe;
  liveness?: NormalizedLivenessProbe;
  startup?: NormalizedStartupProbe;
  restartLimit?: NormalizedRestartLimit;
  stopSignal: NodeJS.Signals;
  terminationGracePeriodMs: number;
  drainMs: number;
  balance: BalancePolicy;
  volumes: string[];
  /** Each hook with its timeout filled in. */
  hooks: NormalizedHooks;
  /** True with pidFile too. */
  forking: boolean;
};

export type NormalizedHook = Required<LifecycleHook>;
export type NormalizedHooks = Partial<Record<HookName, NormalizedHook>>;

/** A limit given as its value type, or as the string its `parse` takes. */
function limitSchema<T>(limit: { name: string; parse(s: string): T }, isLimit: (v: unknown) => v is T, example: string) {
  return z
    .custom<T | string>((v) => isLimit(v) || typeof v === "string", { error: `must be a ${limit.name} or a string such as "${example}"` })
    .transform((value, ctx): T => {
      if (isLimit(value)) return value;
      try {
        return limit.parse(value);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: error instanceof ValidationError ? error.rule : String(error), input: value });
        return z.NEVER;
      }
    });
}

const labelSelectorSchema = z
  .object({
    matchLabels: z.record(labelKeySchema, labelValueSchema).optional(),
    matchExpressions: z
      .array(
        z.object({
          key: labelKeySchema,
          operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"], { error: "must be one of In, NotIn, Exists, DoesNotExist" }),
          values: z.array(labelValueSchema).optional(),
        }),
      )
      .optional(),
  })
  .strict();

const stringMap = z.record(z.string(), z.string({ error: "must be a string" }));
const nonEmpty = z.string({ error: "must be a string" }).min(1, { error: "must not be empty" });

const serviceConfigSchema = z
  .object({
    image: nonEmpty,
    args: z
      .custom<(a: ServiceAssignments) => string[]>((v) => typeof v === "function", { error: "must be a function of the assignments" })
      .optional(),
    envTemplate: z
      .custom<(a: ServiceAssignments) => Record<string, string>>((v) => typeof v === "function", {
        error: "must be a function of the assignments",
      })
      .optional(),
    ports: z
      .array(portSchema)
      .optional()
      .superRefine(uniquePortNames((port) => port.name, ["name"])),
    scale: scaleSchema,
    memoryLimit: limitSchema(MemoryLimit, (v) => v instanceof MemoryLimit, "512MiB").optional(),
    cpuLimit: limitSchema(CpuLimit, (v) => v instanceof CpuLimit, "1.5").optional(),
    diskLimit: limitSchema(DiskLimit, (v) => v instanceof DiskLimit, "10GiB").optional(),
    disk: z.boolean({ error: "must be true or false" }).optional(),
    labels: z.record(labelKeySchema, labelValueSchema).optional(),
    env: z.record(envNameSchema, envValueSchema).optional(),
    secrets: secretIdsSchema.optional(),
    secretEnv: secretEnvSchema.optional(),
    workingDirectory: absolutePath.optional(),
    user: accountSchema.optional(),
    group: accountSchema.optional(),
    volumes: volumeNamesSchema.optional(),
    restartPolicy: restartPolicySchema.optional(),
    restartBackoff: restartBackoffSchema.optional(),
    readiness: readinessSchema.optional(),
    liveness: livenessSchema.optional(),
    startup: startupSchema.optional(),
    restartLimit: restartLimitSchema.optional(),
    stopSignal: signalSchema.optional(),
    terminationGracePeriodMs: nonNegativeInt("must be a whole number of milliseconds").optional(),
    drainMs: nonNegativeInt("must be a whole number of milliseconds").optional(),
    balance: balanceSchema.optional(),
    hooks: lifecycleHooksSchema.optional(),
    stop: stopCommandSchema.optional(),
    forking: z.boolean({ error: "must be true or false" }).optional(),
    pidFile: pidFileSchema.optional(),
    initContainerImage: nonEmpty.optional(),
    availabilityZones: z.array(nonEmpty).optional(),
    otherReplicasSelector: z.array(labelSelectorSchema).optional(),
    replicasSelector: z.array(labelSelectorSchema).optional(),
    nodeSelector: stringMap.optional(),
    annotations: stringMap.optional(),
  })
  .strict();

/**
 * Checks a ServiceConfig against the rules every backend shares and returns it
 * with defaults filled in. Throws ValidationError naming the first bad field.
 */
export function validateServiceConfig(config: unknown): NormalizedServiceConfig {
  const result = serviceConfigSchema.safeParse(config);
  if (!result.success) throw validationErrorOf(result.error, "config");
  const c = result.data;
  const [probe] = probePortProblems(
    c,
    (c.ports ?? []).map((p) => p.name),
  );
  if (probe) throw new ValidationError(probe.path.join("."), probe.rule, probe.value);
  const overlap = envSecretOverlap(c.env ?? {}, c.secretEnv ?? {});
  if (overlap !== undefined) throw new ValidationError(`secretEnv.${overlap}`, ENV_SECRET_OVERLAP_RULE);
  const normalized: NormalizedServiceConfig = {
    image: c.image,
    args: c.args ?? (() => []),
    ports: (c.ports ?? []).map((p) => ({ ...p })),
    scale: c.scale,
    disk: c.disk ?? false,
    labels: { ...c.labels },
    env: { ...c.env },
    secrets: [...(c.secrets ?? [])],
    secretEnv: { ...c.secretEnv },
    restartPolicy: c.restartPolicy ?? SERVICE_DEFAULTS.restartPolicy,
    stopSignal: c.stopSignal ?? SERVICE_DEFAULTS.stopSignal,
    terminationGracePeriodMs: c.terminationGracePeriodMs ?? SERVICE_DEFAULTS.terminationGracePeriodMs,
    drainMs: c.drainMs ?? SERVICE_DEFAULTS.drainMs,
    balance: c.balance ?? SERVICE_DEFAULTS.balance,
    volumes: [...(c.volumes ?? [])],
    hooks: Object.fromEntries(Object.entries(c.hooks ?? {}).map(([name, hook]) => [name, normalizeHook(hook)])),
    forking: c.forking === true || c.pidFile !== undefined,
  };
  if (c.stop) normalized.stop = { command: c.stop.command };
  if (c.pidFile !== undefined) normalized.pidFile = c.pidFile;
  if (c.user !== undefined) normalized.user = c.user;
  if (c.group !== undefined) normalized.group = c.group;
  if (c.memoryLimit) normalized.memoryLimit = c.memoryLimit;
  if (c.cpuLimit) normalized.cpuLimit = c.cpuLimit;
  if (c.diskLimit) normalized.diskLimit = c.diskLimit;
  if (c.restartBackoff) normalized.restartBackoff = { ...c.restartBackoff };
  if (c.workingDirectory) normalized.workingDirectory = c.workingDirectory;
  if (c.envTemplate) normalized.envTemplate = c.envTemplate;
  if (c.user !== undefined) normalized.user = c.user;
  if (c.group !== undefined) normalized.group = c.group;
  if (c.readiness) normalized.readiness = { ...SERVICE_DEFAULTS.readiness, ...c.readiness };
  if (c.liveness) normalized.liveness = { ...SERVICE_DEFAULTS.liveness, ...c.liveness };
  if (c.startup) normalized.startup = { ...SERVICE_DEFAULTS.startup, ...c.startup };
  if (c.restartLimit) normalized.restartLimit = { ...SERVICE_DEFAULTS.restartLimit, ...c.restartLimit };
  for (const key of [
    "initContainerImage",
    "availabilityZones",
    "otherReplicasSelector",
    "replicasSelector",
    "nodeSelector",
    "annotations",
  ] as const) {
    if (c[key] !== undefined) (normalized as unknown as Record<string, unknown>)[key] = c[key];
  }
  return normalized;
}

/** Calls the service's envTemplate (when it has one) and checks that it returned string values. */
export function evaluateEnvTemplate(config: NormalizedServiceConfig, assignments: ServiceAssignments): Record<string, string> {
  if (!config.envTemplate) return {};
  let env: unknown;
  try {
    env = config.envTemplate(assignments);
  } catch (error) {
    throw new ValidationError("env", `threw: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof env !== "object" || env === null || !Object.values(env).every((v) => typeof v === "string")) {
    throw new ValidationError("env", "must return an object of strings");
  }
  const entries = Object.entries(env as Record<string, string>);
  if (entries.some(([k, v]) => k.includes("\0") || v.includes("\0"))) throw new ValidationError("env", "must not contain NUL characters");
  return Object.fromEntries(entries);
}

/** Calls the service's args function and checks that it returned strings. */
export function evaluateArgs(config: NormalizedServiceConfig, assignments: ServiceAssignments): string[] {
  let args: unknown;
  try {
    args = config.args(assignments);
  } catch (error) {
    throw new ValidationError("args", `threw: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
    throw new ValidationError("args", "must return an array of strings");
  }
  if (args.some((a) => a.includes("\0"))) throw new ValidationError("args", "must not contain NUL characters");
  return args;
}

export type { ServiceConfig };
