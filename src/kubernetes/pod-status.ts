import type { ServiceEvent } from "../contract/types.js";
import { CONTAINER_NAME, SERVICE_ID_LABEL } from "./names.js";
import type { PodLike } from "./wire.js";

export type { PodLike } from "./wire.js";

/**
 * 137 is SIGKILL, what the kernel's OOM killer sends; 135 (SIGBUS) is what a
 * process gets when its memory-backed scratch space runs out; 167 is Materialize's
 * own exit code for running out of memory. Materialize's orchestrator reads all as OOM.
 */
const OOM_EXIT_CODES = new Set([135, 137, 167]);

/** The ServiceEvent a pod's current status amounts to. */
export function podToEvent(serviceId: string, processId: number, pod: PodLike, now: Date = new Date()): ServiceEvent {
  const status = pod.status ?? {};
  const ready = status.conditions?.find((c) => c.type === "Ready");
  const containers = status.containerStatuses ?? [];
  const container = containers.find((c) => c.name === CONTAINER_NAME) ?? containers[0];
  const restartCount = container?.restartCount ?? 0;
  const time = ready?.lastTransitionTime !== undefined ? new Date(ready.lastTransitionTime) : now;
  const event: ServiceEvent = { serviceId, processId, status: "offline", time: Number.isNaN(time.getTime()) ? now : time, restartCount };

  if (pod.metadata?.deletionTimestamp !== undefined) {
    event.reason = "stopped";
    return event;
  }
  if (ready?.status === "True") {
    event.status = "online";
    return event;
  }
  const running = container?.state?.running !== undefined;
  // A container back from a crash is "waiting" or already "running" again: its
  // last state says why it went down.
  const terminated = container?.state?.terminated ?? container?.lastState?.terminated;
  if (terminated && (terminated.reason === "OOMKilled" || (terminated.exitCode !== undefined && OOM_EXIT_CODES.has(terminated.exitCode)))) {
    event.reason = "oom-killed";
  } else if (container?.state?.terminated) {
    event.reason = container.state.terminated.reason ?? "exited";
  } else if (container?.state?.waiting?.reason) {
    event.reason = container.state.waiting.reason;
    if (container.state.waiting.message) event.message = container.state.waiting.message;
  } else if (running) {
    event.reason = "not-ready";
  } else {
    event.reason = status.reason ?? (status.phase === "Pending" || status.phase === undefined ? "starting" : status.phase.toLowerCase());
    if (status.message) event.message = status.message;
  }
  if (terminated && !running) {
    if (terminated.exitCode !== undefined) event.exitCode = terminated.exitCode;
    event.signal = terminated.signal !== undefined && terminated.signal !== 0 ? String(terminated.signal) : null;
    if (terminated.message && event.message === undefined) event.message = terminated.message;
  }
  return event;
}

/** Whether two events of one process say something different. */
export function sameState(a: ServiceEvent, b: ServiceEvent): boolean {
  return a.status === b.status && a.reason === b.reason && a.restartCount === b.restartCount && a.exitCode === b.exitCode;
}

export function serviceIdOf(pod: PodLike): string | undefined {
  return pod.metadata?.labels?.[SERVICE_ID_LABEL];
}
