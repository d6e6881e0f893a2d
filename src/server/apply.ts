// Applies a desired state as a diff against the current one: removed services
// are dropped (dependents first), added and changed ones are ensured in
// dependency order, each only once its dependencies meet their condition
// (started, ready or completed). Unchanged services are left alone.
//
// A dependency that ended for good without meeting its condition (a job that
// failed) blocks its dependents at once, and theirs in turn; a wait still open
// at the apply's deadline gives the service up as waiting. Both are answered
// in the result, so an apply never hangs on a job that will not run again.
import { ApplyInterruptedError } from "../contract/errors.js";
import type { ServiceEvent } from "../contract/types.js";
import { startOrder, stopOrder } from "../config/dependencies.js";
import { diffStates } from "../config/diff.js";
import { runningScale, toServiceConfig } from "../config/translate.js";
import type { DependencyCondition, DesiredState } from "../config/types.js";
import type { DaemonNamespace } from "./backend.js";
import { completedForGood, describeEnd } from "./process-end.js";

/** A service that was not started because a dependency ended for good without meeting its condition. */
export interface BlockedService {
  service: string;
  /** The service whose end blocked it (the first of the chain: a dependency's dependency, maybe). */
  by: string;
  /** How `by` ended, e.g. "migrate-0 exited with status 3". */
  reason: string;
}

/** A service that was not started because the apply's time was over while it waited. */
export interface WaitingService {
  service: string;
  dependency: string;
  condition: DependencyCondition;
}

export interface ApplyResult {
  added: string[];
  changed: string[];
  unchanged: string[];
  removed: string[];
  blocked: BlockedService[];
  waiting: WaitingService[];
}

export interface ApplyOptions {
  /** How long to wait for one dependency's condition. */
  dependencyTimeoutMs: number;
  /** When the whole apply ends (ms since the epoch): services still waiting then are answered as `waiting`. */
  deadline?: number;
  /** Ends every wait at once (a shutdown pre-empting the apply); the apply then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Progress lines for the caller ("waiting for db to be ready"). */
  onProgress?(message: string): void;
  /** A service not started (yet): waiting for a dependency, or blocked by one; null once it is started. For `ps`. */
  onPending?(service: string, pending: PendingService | null): void;
}

/** Why a service of the desired state has no process: what `ps` shows in its row. */
export interface PendingService {
  reason: "waiting" | "blocked";
  message: string;
}

export async function applyDesiredState(
  ns: DaemonNamespace,
  previous: DesiredState | null,
  next: DesiredState,
  options: ApplyOptions,
): Promise<ApplyResult> {
  const diff = withMissingAsAdded(diffStates(previous, next), ns, next);
  if (previous && diff.removed.length > 0) {
    const removed = new Set(diff.removed);
    for (const layer of stopOrder(previous)) {
      // Aborted between layers (a second Ctrl-C in `corral up`): the services not reached yet keep running.
      if (options.signal?.aborted) throw interruption(options.signal);
      await Promise.all(
        layer
          .filter((id) => removed.has(id))
          .map(async (id) => {
            options.onProgress?.(`dropping ${id}`);
            await ns.dropService(id);
          }),
      );
    }
  }
  const touched = new Set([...diff.added, ...diff.changed]);
  const blocked = new Map<string, BlockedService>();
  const waiting = new Map<string, WaitingService>();
  const notStarted = (id: string): boolean => blocked.has(id) || waiting.has(id);
  for (const layer of startOrder(next)) {
    await Promise.all(
      layer
        // An unchanged service runs already: its dependencies' state changes nothing for it.
        .filter((id) => touched.has(id))
        .map(async (id) => {
          const spec = next.services[id]!;
          const block = (entry: BlockedService) => {
            blocked.set(id, entry);
            options.onPending?.(id, { reason: "blocked", message: `blocked by ${entry.by}: ${entry.reason}` });
          };
          for (const [dependency, condition] of Object.entries(spec.dependsOn)) {
            const upstream = blocked.get(dependency);
            if (upstream) return void block({ ...upstream, service: id });
            options.onPending?.(id, { reason: "waiting", message: `waiting for ${dependency} to be ${condition}` });
            if (waiting.has(dependency)) return void waiting.set(id, { service: id, dependency, condition });
            options.onProgress?.(`${id} waits for ${dependency} to be ${condition}`);
            const verdict = await waitForCondition(
              ns,
              dependency,
              runningScale(next.services[dependency]!),
              condition,
              waitBound(options),
              options.signal,
            );
            if (verdict.kind === "blocked") return void block({ service: id, by: dependency, reason: verdict.reason });
            if (verdict.kind !== "met") return void waiting.set(id, { service: id, dependency, condition });
          }
          if (options.signal?.aborted) return;
          options.onProgress?.(`${diff.added.includes(id) ? "starting" : "updating"} ${id}`);
          await ns.ensureService(id, toServiceConfig(spec, { namespace: next.namespace, serviceId: id }));
          options.onPending?.(id, null);
        }),
    );
    if (options.signal?.aborted) throw interruption(options.signal);
  }
  const inOrder = <T>(entries: Map<string, T>) => [...entries.keys()].sort().map((id) => entries.get(id)!);
  return {
    ...diff,
    added: diff.added.filter((id) => !notStarted(id)),
    changed: diff.changed.filter((id) => !notStarted(id)),
    blocked: inOrder(blocked),
    waiting: inOrder(waiting),
  };
}

/**
 * A service the desired state already had but that runs nowhere (it was
 * blocked by a failed job, or the apply that should have started it was
 * interrupted) is started now, as if it were new: a later `up` converges.
 */
function withMissingAsAdded(diff: ReturnType<typeof diffStates>, ns: DaemonNamespace, next: DesiredState): ReturnType<typeof diffStates> {
  const running = new Set(ns.processStatuses().map((s) => s.serviceId));
  // A stopped service (or one of scale 0) runs nowhere on purpose (a cluster lists no pods for it).
  for (const [id, spec] of Object.entries(next.services)) if (runningScale(spec) === 0) running.add(id);
  const missing = diff.unchanged.filter((id) => !running.has(id));
  if (missing.length === 0) return diff;
  return { ...diff, added: [...diff.added, ...missing].sort(), unchanged: diff.unchanged.filter((id) => running.has(id)) };
}

function waitBound(options: ApplyOptions): number {
  if (options.deadline === undefined) return options.dependencyTimeoutMs;
  return Math.max(0, Math.min(options.dependencyTimeoutMs, options.deadline - Date.now()));
}

function interruption(signal: AbortSignal): Error {
  return signal.reason instanceof ApplyInterruptedError ? signal.reason : new ApplyInterruptedError("its caller left");
}

type Judgement = "met" | "pending" | { blocked: string };

function judge(event: ServiceEvent, condition: DependencyCondition): Judgement {
  if (condition === "ready" && event.status === "online") return "met";
  if (condition === "completed" && event.reason === "completed") return "met";
  // started: the process exists, or has already run
  const started = event.status === "online" || ["starting", "probe-failed", "completed"].includes(event.reason ?? "");
  if (condition === "started" && started) return "met";
  // A job that ran to completion has done what its dependents wait for, whatever the condition says.
  if (completedForGood(event)) return "met";
  if (event.final) {
    if (condition === "started" && event.reason !== "spawn-failed") return "met";
    return { blocked: `${event.serviceId}-${event.processId} ${describeEnd(event)}` };
  }
  return "pending";
}

export type Verdict = { kind: "met" } | { kind: "blocked"; reason: string } | { kind: "timeout" } | { kind: "aborted" };

/**
 * Watches the namespace's events until every process of `serviceId` meets the
 * condition ("met"), one of them ended for good without meeting it
 * ("blocked"), `timeoutMs` passed ("timeout") or `signal` aborted ("aborted").
 */
export async function waitForCondition(
  ns: DaemonNamespace,
  serviceId: string,
  scale: number,
  condition: DependencyCondition,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Verdict> {
  if (signal?.aborted) return { kind: "aborted" };
  // A dependency with no process to run (stopped, scale 0) holds nothing back: there is nothing to wait for.
  if (scale === 0) return { kind: "met" };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const onAbort = () => controller.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  const latest = new Map<number, ServiceEvent>();
  try {
    for await (const event of ns.watchServices({ signal: controller.signal })) {
      if (event.serviceId !== serviceId || event.warning || event.hook) continue;
      latest.set(event.processId, event);
      const judgements = Array.from({ length: scale }, (_, i) => latest.get(i)).map((e) => (e ? judge(e, condition) : "pending"));
      const blocking = judgements.find((j): j is { blocked: string } => typeof j === "object");
      if (blocking) return { kind: "blocked", reason: blocking.blocked };
      if (judgements.every((j) => j === "met")) return { kind: "met" };
    }
    return signal?.aborted ? { kind: "aborted" } : { kind: "timeout" };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    controller.abort();
  }
}

/**
 * The services of `state` that a process's end for good leaves unstartable:
 * its dependents whose condition it can no longer meet, and everything that
 * depends on those. What the apply reports as blocked, computed from the event
 * alone (`corral up` says it at once, without waiting for the apply's answer).
 */
export function blockedBy(state: DesiredState, ended: ServiceEvent): string[] {
  const blocked = new Set<string>();
  const visit = (id: string, event?: ServiceEvent) => {
    for (const dependent of Object.keys(state.services).sort()) {
      const condition = state.services[dependent]!.dependsOn[id];
      if (condition === undefined || blocked.has(dependent)) continue;
      if (event && typeof judge(event, condition) !== "object") continue;
      blocked.add(dependent);
      visit(dependent);
    }
  };
  visit(ended.serviceId, ended);
  return [...blocked];
}
