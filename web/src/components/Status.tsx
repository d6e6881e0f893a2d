// Status as a shape, a colour and words: readable without colour vision.
import type { Proc } from "../store.js";
import { until } from "../format.js";

export type StatusKind = "online" | "waiting" | "offline" | "oom";

const SYMBOLS: Record<StatusKind, string> = { online: "●", waiting: "◐", offline: "■", oom: "▲" };

export function statusKind(status: string, reason: string | null | undefined, crashLooping = false): StatusKind {
  if (status === "online") return "online";
  if (reason === "oom-killed") return "oom";
  if (reason === "starting" || reason === "probe-failed") return "waiting";
  if (reason === "backoff") return crashLooping ? "offline" : "waiting";
  return "offline";
}

const reasonText = (reason: string) => (reason === "oom-killed" ? "OOM-killed" : reason);

export function statusText(
  p: {
    status: string;
    reason?: string | null;
    exitCode?: number | null;
    signal?: string | null;
    nextStartAt?: string | null;
    lastExit?: string;
    crashLooping?: boolean;
  },
  now: number,
): string {
  if (p.status === "online") return "online";
  const parts = ["offline"];
  if (p.crashLooping && p.reason !== "crash-loop") parts.push("crash-looping");
  if (p.reason) parts.push(reasonText(p.reason) + (p.reason === "backoff" && p.lastExit ? ` after ${reasonText(p.lastExit)}` : ""));
  let detail = p.signal ? p.signal : p.exitCode !== null && p.exitCode !== undefined ? `exit ${p.exitCode}` : "";
  if (p.reason === "backoff" && p.nextStartAt) detail = `next start ${until(p.nextStartAt, now)}`;
  return parts.join(" · ") + (detail ? ` (${detail})` : "");
}

export function StatusBadge({ proc, now }: { proc: Proc; now: number }) {
  const kind = statusKind(proc.status, proc.reason, proc.crashLooping);
  return (
    <span class={`status status-${kind}`} title={proc.message ?? undefined}>
      <span class="status-symbol" aria-hidden="true">
        {SYMBOLS[kind]}
      </span>
      {statusText(proc, now)}
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
