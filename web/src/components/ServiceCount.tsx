// "2/2 online" for a service, counting what should run: a completed job is
// done, not down; a crash loop says so in red.
import { recentOf } from "../health.js";
import type { Proc, TimelineEntry } from "../store.js";
import { statusKind } from "./Status.js";

export function ServiceCount({ procs, timeline, now }: { procs: Proc[]; timeline: TimelineEntry[]; now: number }) {
  const kinds = procs.map((p) => statusKind(p, recentOf(p, timeline, now)));
  const done = kinds.filter((k) => k === "done").length;
  const looping = kinds.filter((k) => k === "failing").length;
  const online = kinds.filter((k) => k === "online").length;
  const running = procs.length - done;
  const parts: string[] = [];
  if (running > 0) parts.push(`${online}/${running} online`);
  if (done > 0) parts.push(`${done} completed`);
  if (looping > 0) parts.push(`${looping} failing`);
  const kind = looping > 0 ? "count-failing" : online < running ? "count-degraded" : done > 0 && running === 0 ? "count-done" : "";
  return (
    <span class={`count ${kind}`} data-count>
      {parts.join(" · ") || "no processes"}
    </span>
  );
}
