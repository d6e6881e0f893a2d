// corral's probes as the kubelet's: socket → tcpSocket, http → httpGet, exec →
// exec; liveness → livenessProbe (the kubelet restarts the container, as corral
// restarts the process), startup → startupProbe with its deadline spread over
// failureThreshold × periodSeconds. A logLine check has no Kubernetes form.
import type { V1Container, V1Probe } from "@kubernetes/client-node";
import { ValidationError } from "../contract/errors.js";
import type { ProbeAction } from "../contract/health.js";
import type { NormalizedServiceConfig } from "../contract/validation.js";

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** The probe's check; port numbers, not names: container port names are limited to 15 characters, corral's to 63. */
export function probeAction(field: string, action: ProbeAction & { logLine?: string }, ports: Record<string, number>): V1Probe {
  if (action.socket !== undefined) return { tcpSocket: { port: ports[action.socket]! } };
  if (action.http !== undefined) return { httpGet: { port: ports[action.http.port]!, path: action.http.path } };
  if (action.exec !== undefined) return { exec: { command: [...action.exec] } };
  throw new ValidationError(`${field}.logLine`, "is for the process backend: a Kubernetes probe cannot read the container's log lines");
}

export function renderHealthProbes(
  config: Pick<NormalizedServiceConfig, "liveness" | "startup">,
  ports: Record<string, number>,
): Pick<V1Container, "livenessProbe" | "startupProbe"> {
  const probes: Pick<V1Container, "livenessProbe" | "startupProbe"> = {};
  const { liveness, startup } = config;
  if (liveness)
    probes.livenessProbe = {
      ...probeAction("liveness", liveness, ports),
      periodSeconds: seconds(liveness.periodMs),
      timeoutSeconds: seconds(liveness.timeoutMs),
      failureThreshold: liveness.failureThreshold,
      ...(liveness.initialDelayMs > 0 ? { initialDelaySeconds: seconds(liveness.initialDelayMs) } : {}),
    };
  if (startup) {
    const periodSeconds = seconds(startup.periodMs);
    probes.startupProbe = {
      ...probeAction("startup", startup, ports),
      periodSeconds,
      timeoutSeconds: seconds(startup.timeoutMs),
      // The kubelet gives up after failureThreshold × periodSeconds: at least the deadline.
      failureThreshold: Math.max(1, Math.ceil(startup.deadlineMs / (periodSeconds * 1000))),
    };
  }
  return probes;
}
