// What the daemon's HTTP API takes and sends, as zod schemas: the routes
// validate requests with them, the OpenAPI document is generated from them, and
// the `corral` command parses the daemon's answers with them. The desired
// state and the service spec are config/desired-state.ts's.
import { z } from "../util/zod.js";
import { idSchema, scaleSchema } from "../contract/rules.js";
import { dependencyConditionSchema, serviceSpecSchema } from "../config/desired-state.js";
import type { ApplyResult } from "./apply.js";
import type { ProcessRow } from "./process-row.js";

export const idParams = z.object({ id: idSchema }).strict();

const index = (rule: string) => z.string({ error: rule }).regex(/^\d+$/, { error: rule }).transform(Number);
export const logsQuery = z
  .object({
    process: index("must be a process index").optional().describe("One process (default: every process of the service)."),
    tail: index("must be a non-negative integer").optional().describe("Only the last lines of each process."),
    follow: z
      .enum(["1", "true", "0", "false"], { error: "must be true, false, 1 or 0" })
      .transform((value) => value === "1" || value === "true")
      .optional()
      .describe("Keep sending new lines."),
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
      },
      { error: "must be { port }" },
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
  problems: z
    .array(z.string())
    .describe("What is wrong with the daemon itself: a state file it could not load, log lines dropped on a full disk."),
});

export const applyResultBody = z.object({
  added: z.array(z.string()),
  changed: z.array(z.string()),
  unchanged: z.array(z.string()),
  removed: z.array(z.string()),
  blocked: z
    .array(z.object({ service: z.string(), by: z.string(), reason: z.string() }))
    .describe("Services not started: a dependency (by) ended for good without meeting its condition, e.g. a job that failed."),
  waiting: z
    .array(z.object({ service: z.string(), dependency: z.string(), condition: dependencyConditionSchema }))
    .describe("Services not started: the apply's time (timeoutMs) was over while they waited for a dependency."),
}) satisfies z.ZodType<ApplyResult>;

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
  pid: nullable(z.number()),
  restarts: z.number(),
  cpuNanoCores: nullable(z.number()),
  memoryBytes: nullable(z.number()),
  uptimeSeconds: nullable(z.number()),
  addresses: z.record(z.string(), z.string()),
  tcpAddresses: z.record(z.string(), z.string()),
  nextStartAt: nullable(z.string()),
  message: nullable(z.string()),
}) satisfies z.ZodType<ProcessRow>;

export const serviceBody = z.object({ id: z.string(), spec: serviceSpecSchema, processes: z.array(processRowBody) });

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
  warning: z.string().optional(),
});

export const discoveryBody = z.array(z.object({ targets: z.array(z.string()), labels: z.record(z.string(), z.string()) }));
export const secretIdsBody = z.array(z.string());
export const secretStoredBody = z.object({
  id: z.string(),
  bytes: z.number(),
  rolled: z.array(z.string()).describe("The services that read the secret and were rolled because its value changed."),
});
export const dashboardLinkBody = z.object({ url: z.string(), address: z.string(), expiresAt: z.string() });
export type DashboardLink = z.infer<typeof dashboardLinkBody>;
