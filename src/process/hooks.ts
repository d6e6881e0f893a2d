// Lifecycle hooks and stop commands of a process slot: each runs as the
// service's processes do (its env, working directory, user and cgroup, its
// output in the process's log), is killed with its whole process group when
// its timeout passes, and ends in a HookResult for the event stream.
import { spawn } from "node:child_process";
import { closeSync } from "node:fs";
import type { HookCommand, StopCommand } from "../contract/lifecycle.js";
import type { NormalizedHooks } from "../contract/validation.js";
import { hookArgv } from "../contract/lifecycle.js";
import type { HookResult } from "../contract/types.js";
import { CGROUP_JOIN_FAILED_EXIT_CODE, shellQuote } from "./launch/cgroup-launcher.js";
import { programAsUser } from "./launch/run-as.js";
import type { ProcessCgroup } from "./launch/types.js";
import type { ProcessLog } from "./logs.js";
import { sendSignal } from "./signals.js";
import type { ServiceUser } from "./users.js";

/** What a slot runs around its process's life, from the service's config. */
export interface SlotLifecycle {
  hooks: NormalizedHooks;
  stop?: StopCommand;
  /** The launched program leaves a server behind (forking.ts). */
  forking: boolean;
  pidFile?: string;
  forkTimeoutMs: number;
}

export interface HookRun {
  name: HookResult["name"];
  command: HookCommand;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
  cwd?: string;
  user?: ServiceUser;
  /** The slot's group, joined before the command runs (as the process itself is). */
  cgroup?: ProcessCgroup;
  log: ProcessLog;
}

/** Runs one hook to its end (or its timeout); never throws: a hook that cannot start is a failed hook, its reason in `error`. */
export async function runHook(run: HookRun): Promise<HookResult & { error?: string }> {
  const startedAt = Date.now();
  const [program, ...args] = hookArgv(run.command);
  const asUser = programAsUser({ program: program!, args, ...(run.user ? { user: run.user } : {}) });
  let command = asUser.program;
  let argv = asUser.args;
  const joins = run.cgroup?.procsFiles?.() ?? [];
  if (joins.length > 0) {
    // Joined as root before the user is dropped, as the cgroup launcher does for the process.
    const script = `${joins.map((f) => `echo $$ > ${shellQuote(f)}`).join(" && ")} || exit ${CGROUP_JOIN_FAILED_EXIT_CODE}; exec "$@"`;
    argv = ["-c", script, "sh", command, ...argv];
    command = "/bin/sh";
  }
  const fds = run.log.openForHook();
  let child;
  try {
    child = spawn(command, argv, {
      // Its own group: a timeout kills whatever the hook started too.
      detached: true,
      stdio: ["ignore", fds.stdout, fds.stderr],
      env: run.env,
      ...(run.cwd ? { cwd: run.cwd } : {}),
    });
  } catch (error) {
    return failed(run.name, startedAt, error);
  } finally {
    closeSync(fds.stdout);
    closeSync(fds.stderr);
  }
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) sendSignal(-child.pid, "SIGKILL");
    }, run.timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve(failed(run.name, startedAt, error));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      // Whatever the hook left running in its group goes with it.
      if (child.pid !== undefined) sendSignal(-child.pid, "SIGKILL");
      const result: HookResult & { error?: string } = {
        name: run.name,
        ok: code === 0 && !timedOut,
        exitCode: code,
        signal,
        durationMs: Date.now() - startedAt,
      };
      if (timedOut) result.timedOut = true;
      if (code === CGROUP_JOIN_FAILED_EXIT_CODE && joins.length > 0) result.error = "could not join the process's cgroup";
      resolve(result);
    });
  });
}

function failed(name: HookResult["name"], startedAt: number, error: unknown): HookResult & { error: string } {
  return {
    name,
    ok: false,
    exitCode: null,
    signal: null,
    durationMs: Date.now() - startedAt,
    error: error instanceof Error ? error.message : String(error),
  };
}

/** How a hook's result reads in an event's message. */
export function describeHook(result: HookResult & { error?: string }): string {
  const how = result.timedOut
    ? `timed out after ${result.durationMs} ms`
    : result.error
      ? `failed: ${result.error}`
      : result.signal
        ? `killed by ${result.signal}`
        : `exited ${result.exitCode}`;
  return `${result.name} hook ${how}${result.timedOut || result.error ? "" : ` in ${result.durationMs} ms`}`;
}
