// What the page reads into a process's recent past: a crash loop (red, says so)
// and restart counts that grow, from the events the daemon kept and the page saw.
import type { Proc, TimelineEntry } from "./store.js";

/** How far back crashes count toward a crash loop and a "growing" restart count. */
export const RECENT_MS = 5 * 60 * 1000;
/** Crashes within RECENT_MS that make a loop. */
export const LOOP_CRASHES = 3;
/** Online for less than this after a loop still counts as looping (the back-off's own reset time). */
const STABLE_MS = 30_000;

const CRASHES = new Set(["crashed", "exited", "oom-killed", "spawn-failed", "failed"]);

export interface Recent {
  /** Crashes (unplanned exits) in the last RECENT_MS. */
  crashes: number;
  /** How much the restart count grew in the last RECENT_MS. */
  grown: number;
  /** True while the process keeps crashing: red, "crash loop". */
  looping: boolean;
}

export function recentOf(proc: Proc, timeline: TimelineEntry[], now: number): Recent {
  let crashes = 0;
  let lastOnline = 0;
  let lowest = proc.restarts;
  for (let i = timeline.length - 1; i >= 0; i--) {
    const e = timeline[i]!;
    const at = Date.parse(e.time);
    if (at < now - RECENT_MS) break;
    if (e.serviceId !== proc.service || e.processId !== proc.process) continue;
    lowest = Math.min(lowest, e.restartCount);
    if (e.status === "offline" && CRASHES.has(e.reason ?? "") && !e.final) crashes++;
    if (e.status === "online" && at > lastOnline) lastOnline = at;
  }
  // The daemon's own word (a crash-loop status or reason) wins.
  const said = proc.status === "crash-loop" || proc.reason === "crash-loop";
  const stillShort = proc.status !== "online" || now - lastOnline < STABLE_MS;
  return { crashes, grown: Math.max(0, proc.restarts - lowest), looping: said || (crashes >= LOOP_CRASHES && stillShort) };
}
