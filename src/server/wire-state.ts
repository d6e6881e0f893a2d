// The daemon's answers that carry the desired state's own types (a service's
// spec, a dependency's condition): apart from wire.ts because they load
// config/desired-state.ts, which the commands that only read processes do not need.
import { z } from "../util/zod.js";
import { dependencyConditionSchema, serviceSpecSchema } from "../config/desired-state.js";
import type { ApplyResult } from "./apply.js";
import { edgeStatsBody, processRowBody, serviceAddressesBody } from "./wire.js";

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

export const serviceBody = z.object({
  id: z.string(),
  spec: serviceSpecSchema,
  processes: z.array(processRowBody),
  serviceAddresses: serviceAddressesBody,
  /** One entry per port with a service address (process backend). */
  edge: z.array(edgeStatsBody),
});
