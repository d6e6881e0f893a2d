// What corral reads from the Kubernetes API that no typed client call has
// already deserialized: pods from a watch stream (plain JSON), watch ERROR
// objects and metrics.k8s.io PodMetrics. Parsed here, only the fields corral
// reads, so a malformed object is dropped instead of cast.
import { z } from "../util/zod.js";

// Pods from a list arrive as client-node objects (timestamps as Date), pods from a watch as JSON (strings).
const timestamp = z.union([z.date(), z.string()]);
const text = z.string().optional();

const terminated = z.object({ exitCode: z.number().optional(), reason: text, signal: z.number().optional(), message: text });

const containerStatus = z.object({
  name: text,
  restartCount: z.number().optional(),
  ready: z.boolean().optional(),
  state: z
    .object({
      running: z.custom<object>((value) => typeof value === "object" && value !== null).optional(),
      waiting: z.object({ reason: text, message: text }).optional(),
      terminated: terminated.optional(),
    })
    .optional(),
  lastState: z.object({ terminated: terminated.optional() }).optional(),
});

export const podSchema = z.object({
  metadata: z
    .object({
      name: text,
      labels: z.record(z.string(), z.string()).optional(),
      annotations: z.record(z.string(), z.string()).optional(),
      deletionTimestamp: timestamp.optional(),
      resourceVersion: text,
    })
    .optional(),
  status: z
    .object({
      phase: text,
      reason: text,
      message: text,
      conditions: z.array(z.object({ type: z.string(), status: z.string(), lastTransitionTime: timestamp.optional() })).optional(),
      containerStatuses: z.array(containerStatus).optional(),
    })
    .optional(),
});

/** The parts of a pod corral reads. */
export type PodLike = z.infer<typeof podSchema>;

/** The object of a watch event of type ERROR: a Status, whose code 410 means the resourceVersion expired. */
export const watchErrorSchema = z.object({ code: z.number().optional() });

export const podMetricsListSchema = z.object({
  items: z.array(
    z.object({
      metadata: z.object({ name: text }).optional(),
      containers: z.array(z.object({ name: text, usage: z.object({ cpu: text, memory: text }).optional() })).optional(),
    }),
  ),
});

export type PodMetricsList = z.infer<typeof podMetricsListSchema>;
