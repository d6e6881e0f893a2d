// `restart:` in corral.yaml: a policy (`restart: on-failure`, as compose writes
// it) or a mapping that adds the crash-loop breaker and the back-off:
// `restart: { policy, maxRestarts, window, backoff }`.
import { z } from "../util/zod.js";
import { SERVICE_DEFAULTS } from "../contract/defaults.js";
import { RESTART_POLICIES, nonNegativeInt, restartBackoffSchema, restartPolicySchema } from "../contract/rules.js";
import { DURATION_PATTERN, DURATION_RULE, parseDurationMs } from "./durations.js";

const RESTART_RULE = `must be one of ${RESTART_POLICIES.join(", ")}, or { policy, maxRestarts, window, backoff }`;

export const restartObjectSchema = z
  .object(
    {
      policy: restartPolicySchema
        .optional()
        .describe(`When an exited process is started again (default ${SERVICE_DEFAULTS.restartPolicy}).`),
      maxRestarts: nonNegativeInt("must be a whole number (of restarts)")
        .optional()
        .describe("More failed starts than this within window put the process in crash-loop: no more restarts (default: no limit)."),
      window: z
        .union(
          [z.string().regex(DURATION_PATTERN, { error: DURATION_RULE }), nonNegativeInt(DURATION_RULE).min(1, { error: DURATION_RULE })],
          {
            error: DURATION_RULE,
          },
        )
        .optional()
        .describe(
          `Where failed starts are counted, with maxRestarts: "1m", "30s" (default ${SERVICE_DEFAULTS.restartLimit.windowMs / 1000}s).`,
        ),
      backoff: restartBackoffSchema.optional().describe("The restart back-off, as restartBackoff (which it replaces)."),
    },
    { error: RESTART_RULE },
  )
  .strict();

export const restartSchema = z.union([restartPolicySchema, restartObjectSchema], { error: RESTART_RULE });

export type RestartEntry = z.infer<typeof restartSchema>;

/** The spec's restart fields for `restart:` as written. */
export function restartFields(restart: RestartEntry): {
  restart?: (typeof RESTART_POLICIES)[number];
  restartLimit?: { maxRestarts: number; windowMs?: number };
  restartBackoff?: z.infer<typeof restartBackoffSchema>;
} {
  if (typeof restart === "string") return { restart };
  const windowMs = restart.window === undefined ? undefined : parseDurationMs(restart.window);
  return {
    ...(restart.policy !== undefined ? { restart: restart.policy } : {}),
    ...(restart.maxRestarts !== undefined
      ? { restartLimit: { maxRestarts: restart.maxRestarts, ...(windowMs !== undefined ? { windowMs } : {}) } }
      : {}),
    ...(restart.backoff !== undefined ? { restartBackoff: { ...restart.backoff } } : {}),
  };
}
