// Stopping one process, the same way wherever it happens: the supervisor
// stopping its own child, a namespace stopping processes an earlier instance
// left (drop, scale-down below a recorded scale). The stop signal goes to the
// process group when the process still leads it (so the whole tree hears it),
// SIGKILL follows the grace period, and stragglers in the group go with it.
import type { ProcessCgroup } from "./launch/types.js";
import { type ProcessIdentity, isAlive, leadsOwnGroup } from "./identity.js";
import { sendSignal } from "./signals.js";
import { survive } from "../util/diagnostics.js";

/** How a process is stopped. Not part of the launch spec: changing it applies in place, without a restart. */
export interface StopPolicy {
  signal: NodeJS.Signals;
  graceMs: number;
}

/** How a service's processes stop, from its config (or the manifest that recorded it, or the defaults). */
export function stopPolicyOf(source: { stopSignal: NodeJS.Signals; terminationGracePeriodMs: number }): StopPolicy {
  return { signal: source.stopSignal, graceMs: source.terminationGracePeriodMs };
}

export interface StoppableProcess {
  identity: ProcessIdentity;
  /**
   * Set when the process is our own child: spawned detached, so it leads its group,
   * and not reaped before its exit event, so its PID cannot be reused while we signal it.
   */
  child?: object;
  /**
   * Resolves once the process is gone and its stragglers killed (the supervisor's
   * exit handling). Without it the process is polled: it is not our child, so there
   * is no exit notification.
   */
  exited?: Promise<void>;
  /** Its cgroup, killed whole when the grace period is over. */
  cgroup?: ProcessCgroup;
}

/** Resolves once the process is gone: the stop signal, then SIGKILL (and its cgroup's) after the grace period. */
export async function stopProcess(target: StoppableProcess, policy: StopPolicy): Promise<void> {
  const exited = target.exited ?? untilGone(target.identity).then(() => killStragglers(target.identity));
  signalProcess(target, policy.signal);
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), policy.graceMs)));
  const timedOut = await Promise.race([exited.then(() => false), graceOver]);
  clearTimeout(timer);
  if (!timedOut) return;
  signalProcess(target, "SIGKILL");
  await target.cgroup?.kill().catch(survive("process.stop", "kill cgroup", { pid: target.identity.pid, cgroup: target.cgroup.name }));
  await exited;
}

/** Sends `signal` to the process's group while it leads one, else to the process alone (once it is gone, to nobody). */
export function signalProcess(target: Pick<StoppableProcess, "identity" | "child">, signal: NodeJS.Signals): void {
  const { identity } = target;
  if (target.child !== undefined || leadsOwnGroup(identity)) sendSignal(-identity.pid, signal);
  else if (isAlive(identity)) sendSignal(identity.pid, signal);
}

/**
 * Whatever is left in the group of a process that is gone goes with it, as a
 * container's processes go with its init: a relaunch must not find its sockets or
 * files held by stragglers. (The group id cannot be reused while members remain.)
 */
export function killStragglers(identity: ProcessIdentity): void {
  sendSignal(-identity.pid, "SIGKILL");
}

async function untilGone(identity: ProcessIdentity): Promise<void> {
  while (isAlive(identity)) await new Promise((resolve) => setTimeout(resolve, 10));
}
