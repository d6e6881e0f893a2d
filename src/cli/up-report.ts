// What `corral up` says when it fails: which process, how it ended, its last
// stderr lines (what a user needs to fix it without another command), what it
// blocked, and for a timeout what each process still waits for.
import type { ServiceEvent } from "../contract/types.js";
import type { DesiredState } from "../config/types.js";
import { type WaitingService, blockedBy } from "../server/apply.js";
import { describeEnd, hasEnded } from "../server/process-end.js";
import { logLineBody } from "../server/wire.js";
import { survive } from "../util/diagnostics.js";
import type { DaemonClient } from "./client.js";
import { status } from "./format.js";
import type { UpOutcome } from "./up-progress.js";

/** Stderr lines shown for a failed process. */
const STDERR_LINES = 10;
/** Lines read to find them: a process that also writes to stdout interleaves both. */
const LINES_SEARCHED = 500;

export async function lastStderrLines(client: DaemonClient, serviceId: string, processIndex: number): Promise<string[]> {
  const query = new URLSearchParams({ process: String(processIndex), tail: String(LINES_SEARCHED) });
  const lines: string[] = [];
  try {
    for await (const line of client.lines(`/v1/services/${serviceId}/logs?${query.toString()}`, logLineBody))
      if (line.stream === "stderr") lines.push(line.line);
  } catch (error) {
    // The failure is said without its output rather than not at all.
    survive("cli.up", "read the failed process's stderr", { service: serviceId })(error);
  }
  return lines.slice(-STDERR_LINES);
}

const nameOf = (event: ServiceEvent) => `${event.serviceId}-${event.processId}`;

/** The message of a failed `up` for a job that failed or a crash loop. */
export async function failureMessage(
  client: DaemonClient,
  state: DesiredState,
  outcome: Exclude<UpOutcome, { kind: "ready" }>,
): Promise<string> {
  const { event } = outcome;
  const name = nameOf(event);
  const headline =
    outcome.kind === "job-failed"
      ? `job ${name} failed: ${describeEnd(event)}`
      : event.reason === "crash-loop"
        ? `${name} ${describeEnd(event)}`
        : hasEnded(event)
          ? `${name} is crash-looping: it ${describeEnd(event).startsWith("killed") ? "was " : ""}${describeEnd(event)} and is being restarted (restarts=${event.restartCount})`
          : `${name} is crash-looping: it was restarted while up waited for it to stay online (restarts=${event.restartCount})`;
  const stderr = await lastStderrLines(client, event.serviceId, event.processId);
  const lines = [
    headline,
    ...(stderr.length > 0
      ? [`last stderr lines of ${name}:`, ...stderr.map((line) => `  ${name} | ${line}`)]
      : [`${name} wrote nothing to stderr`]),
  ];
  if (event.reason === "crash-loop") {
    // Its dependents cannot start: they fail with it rather than wait for it.
    const blocked = blockedBy(state, event);
    if (blocked.length > 0) lines.push(`failed, as they depend on ${event.serviceId}: ${blocked.join(", ")}`);
    lines.push(`(\`corral restart ${event.serviceId}\` starts it again, as does a changed config)`);
  }
  if (outcome.kind === "job-failed") {
    const blocked = blockedBy(state, event);
    if (blocked.length > 0) lines.push(`not started, blocked by ${event.serviceId}: ${blocked.join(", ")}`);
    lines.push(`(\`corral up\` runs the job again once it changed; \`corral restart ${event.serviceId}\` runs it again as it is)`);
  }
  lines.push(`(see \`corral ps\` and \`corral logs ${event.serviceId}\`)`);
  return lines.join("\n");
}

/** The message of an `up` whose time ran out: what each process is, and what each service not started waits for. */
export function timeoutMessage(
  timeoutMs: number,
  pending: { name: string; event: ServiceEvent | undefined }[],
  waiting: WaitingService[],
): string {
  const waits = new Map(waiting.map((w) => [w.service, `waits for ${w.dependency} to be ${w.condition}`]));
  const described = pending.map(({ name, event }) => {
    if (event) return `${name} ${status(event.status, event.reason ?? null)}${event.message ? ` (${event.message})` : ""}`;
    const service = name.slice(0, name.lastIndexOf("-"));
    return `${name} not started${waits.has(service) ? ` (${waits.get(service)})` : ""}`;
  });
  return `not every process came online within ${timeoutMs / 1000} s: ${described.join(", ")} (see \`corral ps\` and \`corral logs\`)`;
}
