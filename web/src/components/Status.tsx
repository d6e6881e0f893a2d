// Status as a shape, a colour and words: readable without colour vision. Any
// status or reason string the daemon sends is shown as it is; a completed job
// is neutral, a crash loop or a failure red.
import type { Proc } from "../store.js";
import { until } from "../format.js";
import type { Recent } from "../health.js";

export type StatusKind = "online" | "waiting" | "offline" | "oom" | "done" | "failing";

const SYMBOLS: Record<StatusKind, string> = { online: "●", waiting: "◐", offline: "■", oom: "▲", done: "✓", failing: "✖" };

interface StatusFields {
  status: string;
  reason?: string | null;
  exitCode?: number | null;
  signal?: string | null;
  nextStartAt?: string | null;
  lastExit?: string;
  final?: true;
  crashLooping?: boolean;
}

export function statusKind(p: StatusFields, recent?: Recent): StatusKind {
  if (recent?.looping) return "failing";
  if (p.status === "online") return "online";
  if (p.reason === "completed") return "done";
  if (p.status === "crash-loop" || p.status === "failed" || p.reason === "crash-loop" || p.reason === "failed") return "failing";
  if (p.reason === "oom-killed") return "oom";
  // The backend's own crash-loop signal (the 5th quick failure in a row) is as red as the page's count.
  if (p.reason === "backoff" && p.crashLooping) return "failing";
  if (p.reason === "starting" || p.reason === "backoff" || p.reason === "probe-failed") return "waiting";
  // A job that ended for good without completing.
  if (p.final) return "failing";
  return "offline";
}

const reasonText = (reason: string) => (reason === "oom-killed" ? "OOM-killed" : reason);

export function statusText(p: StatusFields, now: number, recent?: Recent): string {
  const next = p.reason === "backoff" && p.nextStartAt ? `next start ${until(p.nextStartAt, now)}` : "";
  if (recent?.looping) {
    const parts = ["crash loop", `${recent.crashes} ${recent.crashes === 1 ? "crash" : "crashes"} in 5 min`];
    if (p.lastExit || (p.reason && p.reason !== "backoff")) parts.push(`last ${reasonText(p.lastExit ?? p.reason!)}`);
    return parts.join(" · ") + (next ? ` (${next})` : p.status === "online" ? " (online now)" : "");
  }
  if (p.status === "online") return "online";
  if (p.reason === "completed") return "completed";
  const parts = p.status === "offline" ? ["offline"] : [p.status];
  if (p.crashLooping && p.reason !== "crash-loop") parts.push("crash-looping");
  if (p.reason && p.reason !== p.status)
    parts.push(reasonText(p.reason) + (p.reason === "backoff" && p.lastExit ? ` after ${reasonText(p.lastExit)}` : ""));
  let detail = p.signal ? p.signal : p.exitCode !== null && p.exitCode !== undefined ? `exit ${p.exitCode}` : "";
  if (next) detail = next;
  return parts.join(" · ") + (detail ? ` (${detail})` : "");
}

export function StatusBadge({ proc, now, recent }: { proc: Proc; now: number; recent?: Recent }) {
  const kind = statusKind(proc, recent);
  return (
    <span class={`status status-${kind}`} title={proc.message ?? undefined} data-kind={kind}>
      <span class="status-symbol" aria-hidden="true">
        {SYMBOLS[kind]}
      </span>
      {statusText(proc, now, recent)}
    </span>
  );
}

export function Symbol({ kind }: { kind: StatusKind }) {
  return (
    <span class={`status-symbol status-${kind}`} aria-hidden="true">
      {SYMBOLS[kind]}
    </span>
  );
}

/** "1 service", "2 services". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
