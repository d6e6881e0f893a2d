// The rolling replacement: processes whose config changed are replaced one at
// a time, highest index first, each online (ready, where there is a probe)
// before the next is touched, so a bad change takes down at most one process.
import { RolloutError } from "../contract/errors.js";
import type { ServiceEvent } from "../contract/types.js";
import type { ServiceRuntime } from "./service-runtime.js";

/** The offline reasons that mean a new process failed rather than is still coming up. */
const FAILED = new Set([
  "crashed",
  "exited",
  "completed",
  "oom-killed",
  "spawn-failed",
  "backoff",
  "liveness-failed",
  "startup-timeout",
  "crash-loop",
]);

/**
 * Replaces every process that does not run the service's desired config (or,
 * with `everyProcess`, every process; with `only`, that index alone). A replacement that fails or is not online
 * within `timeoutMs` stops the roll with a RolloutError; the processes not yet
 * replaced keep running.
 */
export async function replaceChanged(
  runtime: ServiceRuntime,
  timeoutMs: number,
  { everyProcess = false, only }: { everyProcess?: boolean; only?: number } = {},
): Promise<void> {
  const { specs } = runtime;
  for (let i = runtime.slots.length - 1; i >= 0; i--) {
    if (only !== undefined && i !== only) continue;
    if (!everyProcess && specs.isCurrent(runtime.slots[i]!.supervisor.stamp, i, specs.config.scale)) continue;
    const supervisor = await runtime.replace(i);
    const outcome = await supervisor.waitFor((e) => e.status === "online" || FAILED.has(e.reason ?? ""), timeoutMs);
    if (!outcome) throw new RolloutError(runtime.id, i, "timeout", `waited ${timeoutMs} ms; the process is ${describe(supervisor.status)}`);
    if (outcome.status !== "online" && !jobDone(outcome))
      throw new RolloutError(runtime.id, i, outcome.reason ?? "offline", outcome.message);
  }
}

/** A one-shot job's replacement that ran to completion did what it was replaced for. */
function jobDone(event: ServiceEvent): boolean {
  return event.final === true && event.reason === "completed";
}

function describe(event: ServiceEvent): string {
  return `${event.status}${event.reason ? ` (${event.reason})` : ""}`;
}
