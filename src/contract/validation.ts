import { constants as osConstants } from "node:os";
import { z } from "zod";
import { SERVICE_DEFAULTS } from "./defaults.js";
import { ValidationError } from "./errors.js";
import { CpuLimit, DiskLimit, MemoryLimit } from "./limits.js";
import type { ReadinessProbe, RestartPolicy, ServiceAssignments, ServiceConfig, ServicePort } from "./types.js";

/** Ids of namespaces, services, ports and secrets: DNS labels (RFC 1123), as Kubernetes names are. */
export const ID_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const ID_MAX_LENGTH = 63;
const ID_RULE = `must match ${ID_PATTERN.source} and be at most ${ID_MAX_LENGTH} characters`;

export function validateId(field: string, value: unknown): string {
  if (typeof value !== "string" || !ID_PATTERN.test(value) || value.length > ID_MAX_LENGTH) {
    throw new ValidationError(field, ID_RULE, value);
  }
  return value;
}

export { SERVICE_DEFAULTS } from "./defaults.js";

export interface NormalizedReadinessProbe extends ReadinessProbe {
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
}

/** A ServiceConfig that passed validation, with every default filled in. */
export type NormalizedServiceConfig = Omit<
  ServiceConfig,
  "args" | "ports" | "disk" | "labels" | "env" | "restartPolicy" | "readiness" | "stopSignal" | "terminationGracePeriodMs"
> & {
  args: (assignments: ServiceAssignments) => string[];
  ports: ServicePort[];
  disk: boolean;
  labels: Record<string, string>;
  env: Record<string, string>;
  restartPolicy: RestartPolicy;
  readiness?: NormalizedReadinessProbe;
  stopSignal: NodeJS.Signals;
  terminationGracePeriodMs: number;
};

const idSchema = z.string().max(ID_MAX_LENGTH).regex(ID_PATTERN, { message: ID_RULE });

// Label keys and values as Kubernetes accepts them, so a service valid here is valid on a cluster.
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const labelKey = z.string().refine(
  (key) => {
    const slash = key.lastIndexOf("/");
    const name = slash === -1 ? key : key.slice(slash + 1);
    const prefix = slash === -1 ? "" : key.slice(0, slash);
    return LABEL_NAME.test(name) && (prefix === "" || (prefix.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(prefix)));
  },
  { message: "label keys must be [prefix/]name with name of at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric" },
);
const labelValue = z.string().refine((v) => v === "" || LABEL_NAME.test(v), {
  message: "label values must be empty or at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric",
});
const stringMap = z.record(z.string(), z.string());

const envKey = z.string().regex(/^[^=\0]+$/, { message: "environment variable names must be non-empty and contain neither '=' nor NUL" });
const envValue = z.string().regex(/^[^\0]*$/, { message: "environment variable values must not contain NUL" });

function limitSchema<T>(limit: { name: string; parse(s: string): T }, example: string) {
  const isLimit = (v: unknown): v is T => v instanceof (limit as unknown as new () => T);
  return z
    .custom<T | string>((v) => isLimit(v) || typeof v === "string", { message: `must be a ${limit.name} or a string such as "${example}"` })
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

const signalSchema = z.string().refine((s) => Object.hasOwn(osConstants.signals, s), {
  message: 'must be a signal name such as "SIGTERM" or "SIGINT"',
}) as unknown as z.ZodType<NodeJS.Signals>;

const positiveInt = z.number().int().positive();

export const restartBackoffSchema = z
  .object({
    initialMs: z.number().int().min(0).optional(),
    maxMs: z.number().int().min(0).optional(),
    multiplier: z.number().min(1, { message: "must be at least 1" }).optional(),
    jitter: z.number().min(0).max(1, { message: "must be a fraction between 0 and 1" }).optional(),
    resetAfterMs: z.number().int().min(0).optional(),
  })
  .strict();

const readinessSchema = z
  .object({
    socket: idSchema.optional(),
    http: z.object({ port: idSchema, path: z.string().startsWith("/", { message: 'must start with "/"' }) }).optional(),
    exec: z.array(z.string()).min(1, { message: "must name a command" }).optional(),
    periodMs: positiveInt.optional(),
    timeoutMs: positiveInt.optional(),
    failureThreshold: positiveInt.optional(),
  })
  .strict()
  .refine((r) => [r.socket, r.http, r.exec].filter((x) => x !== undefined).length === 1, {
    message: "must have exactly one of socket, http or exec",
  });

const labelSelectorSchema = z
  .object({
    matchLabels: z.record(labelKey, labelValue).optional(),
    matchExpressions: z
      .array(
        z.object({
          key: labelKey,
          operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
          values: z.array(labelValue).optional(),
        }),
      )
      .optional(),
  })
  .strict();

const serviceConfigSchema = z
  .object({
    image: z.string({ message: "must be a string" }).min(1, { message: "must not be empty" }),
    args: z
      .custom<(a: ServiceAssignments) => string[]>((v) => typeof v === "function", { message: "must be a function of the assignments" })
      .optional(),
    ports: z
      .array(z.object({ name: idSchema, portHint: z.number().int().min(1).max(65535).optional() }).strict())
      .optional()
      .superRefine((ports, ctx) => {
        const seen = new Set<string>();
        for (const [i, port] of (ports ?? []).entries()) {
          if (seen.has(port.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate port name "${port.name}"` });
          seen.add(port.name);
        }
      }),
    scale: z
      .number({ message: "must be a positive integer" })
      .int({ message: "must be a positive integer" })
      .min(1, { message: "must be a positive integer" }),
    memoryLimit: limitSchema(MemoryLimit, "512MiB").optional(),
    cpuLimit: limitSchema(CpuLimit, "1.5").optional(),
    diskLimit: limitSchema(DiskLimit, "10GiB").optional(),
    disk: z.boolean().optional(),
    labels: z.record(labelKey, labelValue).optional(),
    env: z.record(envKey, envValue).optional(),
    workingDirectory: z
      .string()
      .refine((p) => p.startsWith("/"), { message: "must be an absolute path" })
      .optional(),
    restartPolicy: z.enum(["always", "on-failure", "never"]).optional(),
    restartBackoff: restartBackoffSchema.optional(),
    readiness: readinessSchema.optional(),
    stopSignal: signalSchema.optional(),
    terminationGracePeriodMs: z.number().int().min(0).optional(),
    initContainerImage: z.string().min(1).optional(),
    availabilityZones: z.array(z.string().min(1)).optional(),
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
  if (!result.success) {
    let issue = result.error.issues[0]!;
    // A bad record key reports "Invalid key in record"; the rule that failed is in the nested issue.
    if (issue.code === "invalid_key" && issue.issues[0]) issue = { ...issue.issues[0], path: issue.path };
    const field =
      issue.path.length === 0
        ? "config"
        : issue.path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`)).join("");
    throw new ValidationError(field, issue.message);
  }
  const c = result.data;
  const portNames = new Set((c.ports ?? []).map((p) => p.name));
  const probePort = c.readiness?.socket ?? c.readiness?.http?.port;
  if (probePort !== undefined && !portNames.has(probePort)) {
    throw new ValidationError(
      c.readiness?.socket !== undefined ? "readiness.socket" : "readiness.http.port",
      "must name one of the service's ports",
      probePort,
    );
  }
  const normalized: NormalizedServiceConfig = {
    image: c.image,
    args: c.args ?? (() => []),
    ports: (c.ports ?? []).map((p) => ({ ...p })),
    scale: c.scale,
    disk: c.disk ?? false,
    labels: { ...c.labels },
    env: { ...c.env },
    restartPolicy: c.restartPolicy ?? SERVICE_DEFAULTS.restartPolicy,
    stopSignal: c.stopSignal ?? SERVICE_DEFAULTS.stopSignal,
    terminationGracePeriodMs: c.terminationGracePeriodMs ?? SERVICE_DEFAULTS.terminationGracePeriodMs,
  };
  if (c.memoryLimit) normalized.memoryLimit = c.memoryLimit;
  if (c.cpuLimit) normalized.cpuLimit = c.cpuLimit;
  if (c.diskLimit) normalized.diskLimit = c.diskLimit;
  if (c.restartBackoff) normalized.restartBackoff = { ...c.restartBackoff };
  if (c.workingDirectory) normalized.workingDirectory = c.workingDirectory;
  if (c.readiness) normalized.readiness = { ...SERVICE_DEFAULTS.readiness, ...c.readiness };
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
