// What the daemon's HTTP API takes and sends, as zod schemas: the routes
// validate requests with them, the OpenAPI document is generated from them, and
// the `corral` command parses the daemon's answers with them. Those that carry
// the desired state's own types are in wire-state.ts, so a command such as `ps`
// does not load the config schema to read its answer.
import { z } from "../util/zod.js";
import { idSchema, scaleSchema } from "../contract/rules.js";
import type { ProcessRow } from "./process-row.js";

export const idParams = z.object({ id: idSchema }).strict();

const index = (rule: string) => z.string({ error: rule }).regex(/^\d+$/, { error: rule }).transform(Number);
const instant = (description: string) =>
  z.iso
    .datetime({ offset: true, error: "must be an RFC 3339 time, e.g. 2026-12-02T05:00:00Z" })
    .transform((value) => new Date(value))
    .optional()
    .describe(description);
export const logsQuery = z
  .object({
    process: index("must be a process index").optional().describe("One process (default: every process of the service)."),
    tail: index("must be a non-negative integer").optional().describe("Only the last lines of each process."),
    follow: z
      .enum(["1", "true", "0", "false"], { error: "must be true, false, 1 or 0" })
      .transform((value) => value === "1" || value === "true")
      .optional()
      .describe("Keep sending new lines."),
    search: z
      .string()
      .min(1, { error: "must not be empty" })
      .max(1000, { error: "must be at most 1000 characters" })
      .optional()
      .describe("Only lines containing this text (case-insensitive), searched over the whole history; `tail` then counts matches."),
    since: instant("Only lines written at or after this time (RFC 3339)."),
    until: instant("Only lines written before this time (RFC 3339)."),
  })
  .strict();

export const processParams = z.object({ id: idSchema, process: index("must be a process index") }).strict();

/** The signals the dashboard's kill offers; SIGKILL unless said. */
export const killBody = z
  .object(
    { signal: z.enum(["SIGKILL", "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"]).optional() },
    { error: "must be { signal? }" },
  )
  .strict()
  .nullish();
export const killedBody = z.object({ killed: z.string(), pid: z.number(), signal: z.string() });

export const servicesQuery = z
  .object({
    mask: z
      .enum(["env"], { error: "must be env" })
      .optional()
      .describe("env: every env value replaced by a mask, so values typed into a file (often secrets) never leave the daemon."),
  })
  .strict();

export const historyQuery = z
  .object({
    service: idSchema.optional().describe("One service (default: every service)."),
    since: z.iso.datetime({ error: "must be an ISO 8601 time" }).optional().describe("Only events at or after this time."),
  })
  .strict();

export const scaleBody = z.object({ scale: scaleSchema }, { error: "must be { scale: n }" }).strict();

export const secretBody = z
  .object(
    {
      value: z.string({ error: "must be a string" }).optional(),
      base64: z.base64({ error: "must be a base64 string" }).optional(),
    },
    { error: "must be { value } or { base64 }" },
  )
  .strict()
  .refine((body) => (body.value === undefined) !== (body.base64 === undefined), { error: 'must have exactly one of "value" or "base64"' });

/** A POST whose body is optional: no body is the same as `{}`. */
const optionalBody = <T extends z.ZodObject>(schema: T) => z.preprocess((body) => body ?? {}, schema);

export const shutdownBody = optionalBody(
  z.object({ stopServices: z.boolean({ error: "must be true or false" }).optional() }, { error: "must be { stopServices }" }).strict(),
);

export const dashboardOpenBody = optionalBody(
  z
    .object(
      {
        port: z
          .number({ error: "must be an integer between 0 and 65535" })
          .int({ error: "must be an integer between 0 and 65535" })
          .min(0, { error: "must be an integer between 0 and 65535" })
          .max(65535, { error: "must be an integer between 0 and 65535" })
          .optional(),
        readOnly: z.boolean({ error: "must be true or false" }).optional(),
      },
      { error: "must be { port, readOnly }" },
    )
    .strict(),
);

// --- what the daemon answers ---

export const errorBody = z.object({
  error: z.string(),
  code: z.string().optional(),
  field: z.string().optional(),
  rule: z.string().optional(),
  service: z.string().optional(),
  process: z.number().optional(),
});
export type ErrorBody = z.infer<typeof errorBody>;

export const healthBody = z.object({
  ok: z.literal(true),
  pid: z.number(),
  environment: z.string(),
  version: z.string(),
  /** The TCP listener the daemon was started with (`--tcp`), when it has one. */
  tcpAddress: z.string().nullable().optional(),
  problems: z
    .array(z.string())
    .describe("What is wrong with the daemon itself: a state file it could not load, log lines dropped on a full disk."),
});

/** POST /v1/apply's query: the caller's deadline, so the daemon's apply ends when the caller stops waiting. */
export const applyQuery = z
  .object({
    timeoutMs: z
      .string({ error: "must be a positive number of milliseconds" })
      .regex(/^[1-9]\d{0,9}$/, { error: "must be a positive number of milliseconds" })
      .transform(Number)
      .optional()
      .describe("How long the whole apply may take; services still waiting then are answered as waiting."),
  })
  .strict();

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable();
export const processRowBody = z.object({
  service: z.string(),
  process: z.number(),
  status: z.enum(["online", "offline"]),
  reason: nullable(z.string()),
  lastExitReason: z.string().nullable().optional(),
  pid: nullable(z.number()),
  restarts: z.number(),
  cpuNanoCores: nullable(z.number()),
  memoryBytes: nullable(z.number()),
  uptimeSeconds: nullable(z.number()),
  addresses: z.record(z.string(), z.string()),
  tcpAddresses: z.record(z.string(), z.string()),
  nextStartAt: nullable(z.string()),
  message: nullable(z.string()),
  probes: z.partialRecord(
    z.enum(["startup", "readiness", "liveness"]),
    z.object({ passed: z.boolean(), durationMs: z.number(), time: z.string(), failures: z.number(), lastError: nullable(z.string()) }),
  ),
  crashLooping: z.boolean(),
}) satisfies z.ZodType<ProcessRow>;

/** Port name → the service's own address: its Unix socket (or socket directory) and, where exposed, "host:port". */
export const serviceAddressesBody = z.record(z.string(), z.object({ unix: z.string().optional(), tcp: z.string().optional() }));

/** What one service address (service and port) has done since the daemon started: the balancer's figures. */
export const edgeStatsBody = z.object({
  port: z.string(),
  active: z.number(),
  total: z.number(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  retries: z.number(),
  backendErrors: z.number(),
  drained: z.number(),
  failed: z.number(),
});

export type EdgeStatsBody = z.infer<typeof edgeStatsBody>;

export const logLineBody = z.object({
  process: z.number(),
  time: z.iso.datetime(),
  stream: z.enum(["stdout", "stderr"]),
  line: z.string(),
});

/** The `data:` of a `service` Server-Sent Event: a ServiceEvent with its times as ISO strings. */
export const serviceEventBody = z.object({
  serviceId: z.string(),
  processId: z.number(),
  status: z.enum(["online", "offline"]),
  time: z.iso.datetime().transform((time) => new Date(time)),
  reason: z.string().optional(),
  message: z.string().optional(),
  restartCount: z.number(),
  pid: z.number().optional(),
  exitCode: z.number().nullable().optional(),
  signal: z.string().nullable().optional(),
  nextStartAt: z.iso
    .datetime()
    .transform((time) => new Date(time))
    .optional(),
  final: z.literal(true).optional(),
  hook: z
    .object({
      name: z.enum(["preStart", "postStart", "preStop", "postStop", "stop"]),
      ok: z.boolean(),
      exitCode: z.number().nullable(),
      signal: z.string().nullable(),
      durationMs: z.number(),
      timedOut: z.literal(true).optional(),
    })
    .optional(),
  lastExitReason: z.string().optional(),
  warning: z.string().optional(),
  probes: z
    .partialRecord(
      z.enum(["startup", "readiness", "liveness"]),
      z.object({
        passed: z.boolean(),
        durationMs: z.number(),
        time: z.iso.datetime().transform((time) => new Date(time)),
        failures: z.number(),
        lastError: z.string().optional(),
      }),
    )
    .optional(),
  crashLooping: z.literal(true).optional(),
});

export const metricSeriesBody = z.object({
  service: z.string(),
  process: z.number(),
  t: z.array(z.number()).describe("Seconds since the epoch."),
  cpuNanoCores: z.array(nullable(z.number())),
  memoryBytes: z.array(nullable(z.number())),
});
export const metricsHistoryBody = z.object({
  intervalMs: z
    .number()
    .describe("The finest spacing of samples: readings made for clients (ps, the dashboard, /metrics) are kept this far apart."),
  idleIntervalMs: z.number().describe("The widest spacing: with no client's reading for this long the daemon samples on its own."),
  windowMs: z.number(),
  series: z.array(metricSeriesBody),
  memoryLimits: z.record(z.string(), z.number()).describe("Service → its memory limit in bytes, where it has one."),
});
/**
 * What `corral run` and `corral exec` start a command with: the program and
 * environment of a process of the service (its secrets' variables included:
 * only over the Unix socket, 0600), who it runs as, the values of its
 * placeholders, and for a running process its pid and the cgroup.procs files
 * of its groups.
 */
export const launchSpecBody = z.object({
  service: z.string(),
  process: z.number(),
  pid: z.number().nullable().describe("The process's pid while it runs, else null."),
  command: z.string().describe("The service's program (what `corral run <service>` without a command runs)."),
  args: z.array(z.string()),
  env: z.record(z.string(), z.string()),
  workingDirectory: z.string().nullable(),
  uid: z.number().nullable(),
  gid: z.number().nullable(),
  placeholders: z.object({
    fullName: z.string(),
    processIndex: z.number(),
    listenAddrs: z.record(z.string(), z.string()),
    socketDirs: z.record(z.string(), z.string()),
    volumes: z.record(z.string(), z.string()),
    scratchDirectory: z.string().nullable(),
    secretsDirectory: z.string().nullable(),
  }),
  cgroupProcs: z
    .array(z.string())
    .describe("The cgroup.procs files of the running process's groups: a command joins them to run beside it."),
});
export type LaunchSpecAnswer = z.infer<typeof launchSpecBody>;

export const discoveryBody = z.array(z.object({ targets: z.array(z.string()), labels: z.record(z.string(), z.string()) }));
export const secretIdsBody = z.array(z.string());
export const secretStoredBody = z.object({
  id: z.string(),
  bytes: z.number(),
  rolled: z.array(z.string()).describe("The services that read the secret and were rolled because its value changed."),
});
export const dashboardLinkBody = z.object({ url: z.string(), address: z.string(), expiresAt: z.string() });
export type DashboardLink = z.infer<typeof dashboardLinkBody>;
