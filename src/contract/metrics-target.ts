// Which port of a service Prometheus scrapes, and on which path: the daemon's
// discovery lists only these, so Prometheus never scrapes a database port over HTTP.
import { z } from "../util/zod.js";
import { idSchema, portNameProblem } from "./rules.js";

export const METRICS_PATH_RULE = 'must be a URL path starting with "/"';

export const metricsTargetSchema = z
  .object(
    {
      port: idSchema.describe("The port (by name) that serves metrics."),
      path: z
        .string({ error: METRICS_PATH_RULE })
        .regex(/^\/[^\s?#]*$/, { error: METRICS_PATH_RULE })
        .default("/metrics")
        .describe("The HTTP path of the metrics (Prometheus's __metrics_path__); default /metrics."),
    },
    { error: "must be { port, path }" },
  )
  .strict();

export type MetricsTarget = z.infer<typeof metricsTargetSchema>;

/** The rule a `metrics.port` breaks when it names no port of the service, else undefined. */
export function metricsPortProblem(metrics: { port: string } | undefined, portNames: readonly string[]): string | undefined {
  return metrics === undefined ? undefined : portNameProblem(metrics.port, portNames);
}
