// How a process ended, in words and as an exit status: the apply's "blocked
// by" and the command's failure lines say it the same way.
import { constants } from "node:os";
import type { ServiceEvent } from "../contract/types.js";

/** The reasons of an event that says the process is gone (not starting, waiting or stopped on request). */
const END_REASONS: ReadonlySet<string> = new Set([
  "crashed",
  "exited",
  "completed",
  "oom-killed",
  "spawn-failed",
  "liveness-failed",
  "startup-timeout",
]);

export function hasEnded(event: ServiceEvent): boolean {
  return event.status === "offline" && END_REASONS.has(event.reason ?? "");
}

/** A job whose process ran to completion and will not run again. */
export function completedForGood(event: ServiceEvent): boolean {
  return event.final === true && event.reason === "completed";
}

/** A process that ended without completing and that nothing will start again: a failed job. */
export function failedForGood(event: ServiceEvent): boolean {
  return event.final === true && event.reason !== "completed";
}

/** "exited with status 3", "killed by SIGKILL", "could not start: spawn ENOENT". */
export function describeEnd(event: ServiceEvent): string {
  switch (event.reason) {
    case "completed":
      return "completed (status 0)";
    case "exited":
      return `exited with status ${event.exitCode ?? "?"}`;
    case "crashed":
      return `killed by ${event.signal ?? "a signal"}`;
    case "oom-killed":
      return "killed by the OOM killer";
    case "spawn-failed":
      return `could not start${event.message ? `: ${event.message}` : ""}`;
    case "liveness-failed":
      return `was restarted: ${event.message ?? "its liveness probe failed"}`;
    case "startup-timeout":
      return `was restarted: ${event.message ?? "its startup probe did not pass in time"}`;
    case "crash-loop":
      return `is crash-looping, and no longer restarted: ${event.message ?? "too many failed starts"}`;
    default:
      return `${event.status}${event.reason ? ` (${event.reason})` : ""}`;
  }
}

/** The exit status a shell would give: the code, or 128 + the signal's number for a process killed by one. */
export function shellExitStatus(event: Pick<ServiceEvent, "exitCode" | "signal">): number {
  if (typeof event.exitCode === "number") return event.exitCode;
  const signals: Partial<Record<string, number>> = constants.signals;
  if (event.signal) return 128 + (signals[event.signal] ?? 0);
  return 1;
}
