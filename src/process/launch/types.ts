// The launcher contract between the supervisor and the three ways of starting a
// process (direct, systemd scope, cgroup). A launcher only rewrites the command
// line and prepares kernel objects; spawning, waiting and restarting stay in the
// supervisor, so every launcher is supervised the same way.
import type { CpuLimit, MemoryLimit } from "../../contract/limits.js";
import type { ServiceUser } from "../users.js";

export type LauncherKind = "direct" | "systemd" | "cgroup";

export interface LaunchRequest {
  environmentId: string;
  /** `<namespace>-<serviceId>`. */
  fullId: string;
  processIndex: number;
  /** The final image or wrapper program, already interpolated. */
  program: string;
  args: string[];
  memoryLimit?: MemoryLimit;
  cpuLimit?: CpuLimit;
  /** cgroup launcher only: cap on tasks in the group (`pids.max`); unlimited when absent. */
  pidsLimit?: number;
  /** Run the program as this user (after the launcher's own setup, which needs root): `setpriv ... -- program args`. */
  user?: ServiceUser;
}

export interface PreparedLaunch {
  /** What the supervisor passes to `child_process.spawn(command, args, { detached: true })`. */
  command: string;
  args: string[];
  /** Set by the cgroup launcher: the (empty) group the child joins before it runs any code. */
  cgroup?: ProcessCgroup;
  /**
   * The group's OOM-kill counter read before the child existed, so a kill that
   * happens before the supervisor gets around to reading it still counts.
   * Pass it as `oomKillsBefore` to `classifyExit`. 0 without a cgroup.
   */
  oomKillsBefore: number;
  /** Something the user should hear about (e.g. limits requested under `direct`). Emit it once per service, not per launch. */
  warning?: string;
}

export interface ProcessCgroup {
  /** Path of the group below each hierarchy's mount, e.g. `corral/<env>/<fullId>-<i>`. */
  readonly name: string;
  /** Which cgroup API enforces the limits: "v2" (unified with controllers) or "v1". */
  readonly version: "v1" | "v2";
  /** Kernel OOM kills in the group so far (v1: `memory.oom_control` oom_kill; v2: `memory.events` oom_kill). */
  oomKillCount(): Promise<number>;
  /** Working set of the whole group (usage minus inactive file cache), or null when unreadable. */
  memoryBytes(): Promise<number | null>;
  /** Cumulative CPU time of the whole group, children included, or null when unreadable. */
  cpuUsageNanos(): Promise<number | null>;
  /** True while any (non-zombie) task is in the group. */
  isPopulated(): Promise<boolean>;
  /** The `cgroup.procs` file of the group in each hierarchy: a process writing its PID into each joins the group (hooks do). */
  procsFiles?(): string[];
  /** PIDs currently in the group (and any sub-groups the processes made). */
  pids(): Promise<number[]>;
  /**
   * SIGKILL everything in the group (v2 `cgroup.kill`; else freeze, kill each PID,
   * thaw, repeat) and resolve once the group is empty. Rejects if it is still
   * populated after `timeoutMs` (default 10 s), e.g. a task stuck in D state.
   */
  kill(opts?: { timeoutMs?: number }): Promise<void>;
  /**
   * Wait until empty (up to `timeoutMs`, default 5 s; does not kill), then rmdir
   * the group in every hierarchy, and its corral parents where they became empty.
   * Idempotent: a group that is already gone is fine.
   */
  remove(opts?: { timeoutMs?: number }): Promise<void>;
}

export interface Launcher {
  readonly kind: LauncherKind;
  prepare(req: LaunchRequest): Promise<PreparedLaunch>;
  /** Re-open the group of a process left by an earlier orchestrator instance (adoption), or null. */
  reopen(req: Pick<LaunchRequest, "environmentId" | "fullId" | "processIndex">): Promise<ProcessCgroup | null>;
  /**
   * Removes the environment's groups that hold no process (left by a host that was SIGKILLed, or
   * emptied by a close), then its parents once empty; a group with a live process stays for adoption.
   */
  sweep?(hostScope: string): Promise<void>;
}
