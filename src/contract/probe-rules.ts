// The rules of the liveness and startup probes and of the restart limit (the
// crash-loop breaker), shared by corral.yaml, the daemon's wire types and
// ServiceConfig like those of rules.ts.
import { z } from "../util/zod.js";
import { SERVICE_DEFAULTS } from "./defaults.js";
import {
  MILLISECONDS_RULE,
  exactlyOneProbeKind,
  logLineSchema,
  nonNegativeInt,
  positiveInt,
  probeActionFields,
  readinessPortProblem,
} from "./rules.js";

const liveness = SERVICE_DEFAULTS.liveness;
export const livenessSchema = z
  .object(
    {
      ...probeActionFields,
      periodMs: positiveInt.optional().describe(`Between probes (default ${liveness.periodMs}).`),
      timeoutMs: positiveInt.optional().describe(`Per probe (default ${liveness.timeoutMs}).`),
      failureThreshold: positiveInt
        .optional()
        .describe(`Failed probes in a row after which the process is restarted (default ${liveness.failureThreshold}).`),
      initialDelayMs: nonNegativeInt(MILLISECONDS_RULE)
        .optional()
        .describe(`Wait after the start (after the startup probe passed) before the first probe (default ${liveness.initialDelayMs}).`),
    },
    { error: "must be a mapping with one of socket, http or exec" },
  )
  .strict()
  .check(exactlyOneProbeKind(["socket", "http", "exec"]));

const startup = SERVICE_DEFAULTS.startup;
export const startupSchema = z
  .object(
    {
      ...probeActionFields,
      logLine: logLineSchema.optional(),
      periodMs: positiveInt.optional().describe(`Between probes (default ${startup.periodMs}).`),
      timeoutMs: positiveInt.optional().describe(`Per probe (default ${startup.timeoutMs}).`),
      deadlineMs: positiveInt
        .optional()
        .describe(`The process is killed (offline startup-timeout) when no probe passed within this (default ${startup.deadlineMs}).`),
    },
    { error: "must be a mapping with one of socket, http, exec or logLine" },
  )
  .strict()
  .check(exactlyOneProbeKind(["socket", "http", "exec", "logLine"]));

export const restartLimitSchema = z
  .object(
    {
      maxRestarts: nonNegativeInt("must be a whole number (of restarts)").describe(
        "More failed starts than this within windowMs put the process in crash-loop: no more restarts.",
      ),
      windowMs: positiveInt
        .optional()
        .describe(`The window failed starts are counted in (default ${SERVICE_DEFAULTS.restartLimit.windowMs}).`),
    },
    { error: "must be { maxRestarts, windowMs }" },
  )
  .strict();

/** Port problems of every probe of a service (a port the service does not declare), with the probe's field name. */
export function probePortProblems(
  probes: Partial<Record<"readiness" | "liveness" | "startup", Parameters<typeof readinessPortProblem>[0]>>,
  portNames: readonly string[],
): { path: (string | number)[]; rule: string; value: string }[] {
  const problems = [];
  for (const field of ["readiness", "liveness", "startup"] as const) {
    const problem = readinessPortProblem(probes[field], portNames);
    if (problem) problems.push({ ...problem, path: [field, ...problem.path] });
  }
  return problems;
}
