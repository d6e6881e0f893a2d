// Why a process stopped, from its wait status and its cgroup's OOM-kill counter.
// The kernel's OOM killer sends SIGKILL; so can anyone else. Only a SIGKILL that
// coincides with a rise of the group's oom_kill counter is an OOM kill.

export type ExitReason = "oom-killed" | "crashed" | "exited" | "completed";

export interface ExitClassification {
  reason: ExitReason;
  exitCode: number | null;
  signal: string | null;
}

/** What a shell that did not exec reports for a child that died of SIGKILL. */
const SHELL_SIGKILL_STATUS = 128 + 9;

export function classifyExit(args: {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** `PreparedLaunch.oomKillsBefore` (or the count when a process was adopted). */
  oomKillsBefore?: number;
  /** `ProcessCgroup.oomKillCount()` read after the exit. */
  oomKillsAfter?: number;
}): ExitClassification {
  const { code, signal } = args;
  const oomRose = args.oomKillsBefore !== undefined && args.oomKillsAfter !== undefined && args.oomKillsAfter > args.oomKillsBefore;
  // A wrapper (command wrapper, sh) that did not exec turns the child's SIGKILL into status 137.
  if (oomRose && (signal === "SIGKILL" || (signal === null && code === SHELL_SIGKILL_STATUS))) {
    return { reason: "oom-killed", exitCode: code, signal };
  }
  if (signal !== null) return { reason: "crashed", exitCode: null, signal };
  if (code === 0) return { reason: "completed", exitCode: 0, signal: null };
  return { reason: "exited", exitCode: code, signal: null };
}
