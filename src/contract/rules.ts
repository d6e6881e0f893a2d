// The field rules that corral.yaml, the daemon's HTTP bodies and the library's
// ServiceConfig share, each written once: a rule reads the same wherever it is
// broken, and the three wire types cannot drift apart. Messages are rules
// ("must ..."), so `<field>: <rule>` reads as a sentence.
import { isIP } from "node:net";
import { constants as osConstants } from "node:os";
import { isAbsolute } from "node:path";
import { z } from "../util/zod.js";
import { INPUT_LIMITS, SERVICE_DEFAULTS } from "./defaults.js";
import { ValidationError } from "./errors.js";

/** Ids of namespaces, services, ports and secrets: DNS labels (RFC 1123), as Kubernetes names are. */
export const ID_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const ID_MAX_LENGTH = 63;
export const ID_RULE = `must match ${ID_PATTERN.source} and be at most ${ID_MAX_LENGTH} characters`;
export const idSchema = z.string({ error: ID_RULE }).max(ID_MAX_LENGTH, { error: ID_RULE }).regex(ID_PATTERN, { error: ID_RULE });

export const POSITIVE_INT_RULE = "must be a positive integer";
export const positiveInt = z.number({ error: POSITIVE_INT_RULE }).int({ error: POSITIVE_INT_RULE }).min(1, { error: POSITIVE_INT_RULE });

export const STRING_RULE = `must be a string of at most ${INPUT_LIMITS.maxStringLength} characters without NUL`;
/** An argument or other free text handed to a process: execve takes no NUL and no string past MAX_ARG_STRLEN. */
export const argString = z
  .string({ error: "must be a string" })
  .max(INPUT_LIMITS.maxStringLength, { error: STRING_RULE })
  .refine((s) => !s.includes("\0"), { error: STRING_RULE });

export const nonNegativeInt = (rule: string) => z.number({ error: rule }).int({ error: rule }).min(0, { error: rule });

// A service's number of processes. 0 is valid on purpose (the seed wants >= 1):
// the service is kept, with its files, and runs no process (corral stop, scale web=0).
// Bounded, so that no input can make the daemon start (or persist) millions of them.
export const SCALE_RULE = "must be a non-negative integer (0 keeps the service with no process)";
export const SCALE_MAX_RULE = `must be at most ${INPUT_LIMITS.maxScale} (the largest scale corral runs)`;
export const scaleSchema = nonNegativeInt(SCALE_RULE).max(INPUT_LIMITS.maxScale, { error: SCALE_MAX_RULE });
export const MILLISECONDS_RULE = "must be a whole number of milliseconds";

export const nonEmptyString = (what: string) => z.string({ error: `must be ${what}` }).min(1, { error: "must not be empty" });

export const ABSOLUTE_PATH_RULE = "must be an absolute path";
export const absolutePath = z
  .string({ error: ABSOLUTE_PATH_RULE })
  .max(INPUT_LIMITS.maxStringLength, { error: STRING_RULE })
  .refine((path) => !path.includes("\0"), { error: STRING_RULE })
  .refine((path) => isAbsolute(path), { error: ABSOLUTE_PATH_RULE });

const PORT_NUMBER_RULE = "must be a port number (1-65535)";
export const portNumber = z
  .number({ error: PORT_NUMBER_RULE })
  .int({ error: PORT_NUMBER_RULE })
  .min(1, { error: PORT_NUMBER_RULE })
  .max(65535, { error: PORT_NUMBER_RULE });

export const SOCKET_FILE_RULE = 'must be a file name (no "/", at most 64 characters) such as ".s.PGSQL.5432"';
const socketFileSchema = z
  .string({ error: SOCKET_FILE_RULE })
  .regex(/^[^/\0]{1,64}$/, { error: SOCKET_FILE_RULE })
  .refine((name) => name !== "." && name !== "..", { error: SOCKET_FILE_RULE });

export const EXPOSE_RULE = "must be true, false or an IP address to listen on (e.g. 127.0.0.1, ::1, 0.0.0.0)";
const exposeSchema = z.union([z.boolean(), z.string().refine((host) => isIP(host) !== 0, { error: EXPOSE_RULE })], {
  error: EXPOSE_RULE,
});

export const BALANCE_POLICIES = ["round-robin", "least-connections"] as const;
export const balanceSchema = z.enum(BALANCE_POLICIES, { error: `must be one of ${BALANCE_POLICIES.join(", ")}` });

export const portSchema = z
  .object(
    {
      name: idSchema,
      portHint: portNumber
        .optional()
        .describe(
          "Asks for this TCP port: for an exposed port, its service address; else the proxy of process 0 (process i: portHint + i).",
        ),
      socketDir: z
        .boolean({ error: "must be true or false" })
        .optional()
        .describe("Process backend: give each process a directory (%D:<port>) to create its socket in, as `postgres -k` wants."),
      socketFile: socketFileSchema.optional().describe("With socketDir: the socket's name inside the directory (e.g. .s.PGSQL.5432)."),
      expose: exposeSchema
        .optional()
        .describe(
          "Process backend: a TCP listener for the service address of this port: true for loopback (127.0.0.1), or an IP address to listen on (a non-loopback one is warned about). portHint fixes its port.",
        ),
      tcpPerProcess: z
        .boolean({ error: "must be true or false" })
        .optional()
        .describe("Process backend: a loopback TCP proxy for each process of this port, as per-process scraping needs."),
    },
    { error: "must be { name, portHint, socketDir, socketFile, expose, tcpPerProcess }" },
  )
  .strict()
  .superRefine((port, ctx) => {
    if (port.socketDir === true && port.socketFile === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["socketFile"],
        message: "is required with socketDir: true (the socket's name in the directory)",
      });
    if (port.socketDir !== true && port.socketFile !== undefined)
      ctx.addIssue({ code: "custom", path: ["socketFile"], message: "is only for a port with socketDir: true" });
  });

// A user or group as the system names it, or a numeric id (what a container runtime accepts, passwd entry or not).
export const ACCOUNT_RULE = "must be a name (letters, digits, _ . -) or a numeric id";
const MAX_ID = 4_294_967_294; // (uid_t)-1 means "unchanged" to setresuid(2)
export const accountSchema = z.union(
  [
    z.number({ error: ACCOUNT_RULE }).int({ error: ACCOUNT_RULE }).min(0, { error: ACCOUNT_RULE }).max(MAX_ID, { error: ACCOUNT_RULE }),
    z
      .string({ error: ACCOUNT_RULE })
      .regex(/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}\$?$/, { error: ACCOUNT_RULE })
      .refine((name) => !/^\d+$/.test(name) || Number(name) <= MAX_ID, { error: ACCOUNT_RULE }),
  ],
  { error: ACCOUNT_RULE },
);

/** Names of volumes a service uses: ids, each once. */
export const volumeNamesSchema = z.array(idSchema, { error: "must be a list of volume names" }).superRefine((names, ctx) => {
  const seen = new Set<string>();
  for (const [i, name] of names.entries()) {
    if (seen.has(name)) ctx.addIssue({ code: "custom", path: [i], message: `duplicate volume "${name}"` });
    seen.add(name);
  }
});

/** `CORRAL_VOLUME_<NAME>`: the variable that carries a volume's directory (`pg-data` → `CORRAL_VOLUME_PG_DATA`). */
export function volumeEnvName(volume: string): string {
  return `CORRAL_VOLUME_${volume.toUpperCase().replaceAll("-", "_")}`;
}

/** A refinement for a list of ports: the second port of a name is reported, at `[index, ...at]`. */
export function uniquePortNames<T>(nameOf: (port: T) => string, at: readonly string[] = []) {
  return (ports: readonly T[] | undefined, ctx: z.RefinementCtx): void => {
    const seen = new Set<string>();
    for (const [i, port] of (ports ?? []).entries()) {
      const name = nameOf(port);
      if (seen.has(name)) ctx.addIssue({ code: "custom", path: [i, ...at], message: `duplicate port name "${name}"` });
      seen.add(name);
    }
    // The service address of port "a-1" would be the socket of process 1 of port "a": <runDir>/a-1.
    for (const [i, port] of (ports ?? []).entries()) {
      const name = nameOf(port);
      const match = /^(.+)-(\d+)$/.exec(name);
      if (match && seen.has(match[1]!))
        ctx.addIssue({
          code: "custom",
          path: [i, ...at],
          message: `must not be another port's name and a number: "${name}" is the socket of process ${match[2]} of port "${match[1]}"`,
        });
    }
  };
}

// Label keys and values as Kubernetes accepts them, so a service valid here is valid on a cluster.
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
export const LABEL_KEY_RULE =
  "label keys must be [prefix/]name with name of at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric";
export const labelKeySchema = z.string({ error: LABEL_KEY_RULE }).refine(
  (key) => {
    const slash = key.lastIndexOf("/");
    const name = slash === -1 ? key : key.slice(slash + 1);
    const prefix = slash === -1 ? "" : key.slice(0, slash);
    return LABEL_NAME.test(name) && (prefix === "" || (prefix.length <= 253 && LABEL_PREFIX.test(prefix)));
  },
  { error: LABEL_KEY_RULE },
);
const LABEL_VALUE_RULE = "label values must be empty or at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric";
export const labelValueSchema = z
  .string({ error: LABEL_VALUE_RULE })
  .refine((v) => v === "" || LABEL_NAME.test(v), { error: LABEL_VALUE_RULE });

export const ENV_NAME_RULE = "environment variable names must be non-empty and contain neither '=' nor NUL";
export const envNameSchema = z
  .string({ error: ENV_NAME_RULE })
  .max(INPUT_LIMITS.maxStringLength, { error: ENV_NAME_RULE })
  .regex(/^[^=\0]+$/, { error: ENV_NAME_RULE });
const ENV_VALUE_RULE = `environment variable values must be strings without NUL, of at most ${INPUT_LIMITS.maxStringLength} characters`;
export const envValueSchema = z
  .string({ error: ENV_VALUE_RULE })
  .max(INPUT_LIMITS.maxStringLength, { error: ENV_VALUE_RULE })
  .regex(/^[^\0]*$/, { error: ENV_VALUE_RULE });

/** The secrets a service reads as files: ids, each named once. */
export const secretIdsSchema = z.array(idSchema, { error: "must be a list of secret ids" }).superRefine((ids, ctx) => {
  const seen = new Set<string>();
  for (const [i, id] of ids.entries()) {
    if (seen.has(id)) ctx.addIssue({ code: "custom", path: [i], message: `duplicate secret "${id}"` });
    seen.add(id);
  }
});

/** Environment variable name → the id of the secret whose contents it carries. */
export const secretEnvSchema = z.record(envNameSchema, idSchema, { error: "must be a mapping of variable name to secret id" });

export const ENV_SECRET_OVERLAP_RULE = "is also set in env: a variable comes from one place";

/** A variable set both as plain env and from a secret, reported at the secret's entry; undefined when there is none. */
export function envSecretOverlap(env: Record<string, unknown>, secretEnv: Record<string, string>): string | undefined {
  return Object.keys(secretEnv).find((name) => Object.hasOwn(env, name));
}

export const RESTART_POLICIES = ["always", "on-failure", "never"] as const;
export const restartPolicySchema = z.enum(RESTART_POLICIES, { error: `must be one of ${RESTART_POLICIES.join(", ")}` });

export const SIGNAL_RULE = 'must be a signal name such as "SIGTERM" or "SIGINT"';
export function isSignalName(name: string): name is NodeJS.Signals {
  return Object.hasOwn(osConstants.signals, name);
}
export const SIGNAL_NAMES = Object.keys(osConstants.signals).filter(isSignalName);
export const signalSchema = z.enum(SIGNAL_NAMES, { error: SIGNAL_RULE });

const backoff = SERVICE_DEFAULTS.restartBackoff;
const FRACTION_RULE = "must be a number between 0 and 1";
const MULTIPLIER_RULE = "must be a number of at least 1";
export const restartBackoffSchema = z
  .object(
    {
      initialMs: nonNegativeInt(MILLISECONDS_RULE).optional().describe(`The first restart's delay (default ${backoff.initialMs}).`),
      maxMs: nonNegativeInt(MILLISECONDS_RULE).optional().describe(`The longest delay (default ${backoff.maxMs}).`),
      multiplier: z
        .number({ error: MULTIPLIER_RULE })
        .min(1, { error: MULTIPLIER_RULE })
        .optional()
        .describe(`Growth per restart (default ${backoff.multiplier}).`),
      jitter: z
        .number({ error: FRACTION_RULE })
        .min(0, { error: FRACTION_RULE })
        .max(1, { error: FRACTION_RULE })
        .optional()
        .describe(`Spread of each delay, a fraction (default ${backoff.jitter}).`),
      resetAfterMs: nonNegativeInt(MILLISECONDS_RULE)
        .optional()
        .describe(`Uptime after which a crash counts as the first (default ${backoff.resetAfterMs}).`),
    },
    { error: "must be a mapping" },
  )
  .strict();

const probe = SERVICE_DEFAULTS.readiness;

/** The kinds of check a probe may have, in the order errors name them. */
export const PROBE_KINDS = ["socket", "http", "exec", "logLine"] as const;

/** The fields of a probe's check: socket, http, exec (every probe) and logLine (readiness and startup). */
export const probeActionFields = {
  socket: idSchema.optional().describe("Passes once the process accepts connections on this port's socket."),
  http: z
    .object(
      { port: idSchema, path: z.string({ error: "must be a string" }).regex(/^\//, { error: 'must start with "/"' }) },
      { error: "must be { port, path }" },
    )
    .strict()
    .optional()
    .describe("Passes once GET <path> on this port answers 2xx or 3xx."),
  exec: z
    .array(argString, { error: "must be a list of strings (an argv)" })
    .min(1, { error: "must name a command" })
    .optional()
    .describe("Passes once this command exits 0."),
};

export const LOG_LINE_RULE = "must be a regular expression";
export const logLineSchema = z
  .string({ error: LOG_LINE_RULE })
  .min(1, { error: "must not be empty" })
  .superRefine((source, ctx) => {
    try {
      new RegExp(source);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: `${LOG_LINE_RULE}: ${error instanceof Error ? error.message : String(error)}` });
    }
  })
  .describe("Passes once a line of the process's stdout or stderr matches this regular expression (read from corral's own log capture).");

/**
 * A refinement: exactly one kind of check. A second kind is reported at its own
 * key (the line to delete), none at the probe itself.
 */
export function exactlyOneProbeKind(kinds: readonly (typeof PROBE_KINDS)[number][]) {
  const list = `${kinds.slice(0, -1).join(", ")} or ${kinds.at(-1)!}`;
  return (payload: z.core.ParsePayload<Partial<Record<(typeof PROBE_KINDS)[number], unknown>>>): void => {
    // An unknown field (`liveness: { logLine: ... }`) is the problem to tell, not the kind it then seems to lack.
    if (payload.issues.some((issue) => issue.code === "unrecognized_keys")) return;
    const probe = payload.value;
    const present = kinds.filter((kind) => probe[kind] !== undefined);
    if (present.length === 0) payload.issues.push({ code: "custom", input: probe, message: `must have exactly one of ${list}` });
    for (const extra of present.slice(1))
      payload.issues.push({
        code: "custom",
        input: probe[extra],
        path: [extra],
        message: `cannot be combined with ${present[0]!}: a probe has exactly one of ${list}`,
      });
  };
}

export const readinessSchema = z
  .object(
    {
      ...probeActionFields,
      logLine: logLineSchema.optional(),
      periodMs: positiveInt.optional().describe(`Between probes (default ${probe.periodMs}).`),
      timeoutMs: positiveInt.optional().describe(`Per probe (default ${probe.timeoutMs}).`),
      failureThreshold: positiveInt
        .optional()
        .describe(`Failed probes in a row before the process counts as not ready (default ${probe.failureThreshold}).`),
    },
    { error: "must be a mapping with one of socket, http, exec or logLine" },
  )
  .strict()
  .check(exactlyOneProbeKind(PROBE_KINDS));

/** Where a readiness probe names a port the service does not declare, and the rule it breaks; undefined when it is fine. */
export function readinessPortProblem(
  readiness: { socket?: string | undefined; http?: { port: string } | undefined } | undefined,
  portNames: readonly string[],
): { path: ["socket"] | ["http", "port"]; rule: string; value: string } | undefined {
  const path: ["socket"] | ["http", "port"] | undefined =
    readiness?.socket !== undefined ? ["socket"] : readiness?.http !== undefined ? ["http", "port"] : undefined;
  const value = readiness?.socket ?? readiness?.http?.port;
  const rule = value === undefined ? undefined : portNameProblem(value, portNames);
  return path && value !== undefined && rule !== undefined ? { path, rule, value } : undefined;
}

/** The rule a field that names a port of the service (a probe's, `metrics.port`) breaks, else undefined. */
export function portNameProblem(name: string, portNames: readonly string[]): string | undefined {
  if (portNames.includes(name)) return undefined;
  const declared = portNames.length === 0 ? "the service declares no ports" : `declared: ${portNames.join(", ")}`;
  return `must name one of the service's ports (${declared})`;
}

/** `services.web.args[2]`, `labels.a/b`: a zod issue's path as one field name. */
export function fieldOf(path: readonly PropertyKey[], fallback: string): string {
  if (path.length === 0) return fallback;
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`)).join("");
}

/**
 * The first issue of a failed parse as a ValidationError naming the field and
 * the rule. A bad record key and a union that one branch evidently meant are
 * reported by the rule that failed inside them, not as "invalid key/input".
 */
export function validationErrorOf(error: z.ZodError, fallbackField: string): ValidationError {
  let issue: z.core.$ZodIssue = error.issues[0]!;
  let path: PropertyKey[] = [...issue.path];
  for (;;) {
    if (issue.code === "invalid_key" && issue.issues[0]) issue = issue.issues[0];
    else if (issue.code === "invalid_union") {
      // The branch the value was evidently meant for: the one whose type it has.
      const meant = issue.errors.filter((branch) => !branch.some((i) => i.code === "invalid_type" && i.path.length === 0));
      if (meant.length !== 1 || !meant[0]![0]) break;
      issue = meant[0]![0];
      path = [...path, ...issue.path];
    } else break;
  }
  // Named by the object that holds it, so a root-level stray reads "config: unknown field ...".
  if (issue.code === "unrecognized_keys")
    return new ValidationError(fieldOf(path, fallbackField), `unknown field ${JSON.stringify(issue.keys[0])}`);
  return new ValidationError(fieldOf(path, fallbackField), issue.message);
}
