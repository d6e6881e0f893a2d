// Applies a desired state as a diff against the current one: removed services
// are dropped (dependents first), added and changed ones are ensured in
// dependency order, each only once its dependencies meet their condition
// (started, ready or completed). Unchanged services are left alone.
import type { ServiceEvent } from "../contract/types.js";
import { startOrder, stopOrder } from "../config/dependencies.js";
import { diffStates } from "../config/diff.js";
import { toServiceConfig } from "../config/translate.js";
import type { DependencyCondition, DesiredState } from "../config/types.js";
import type { DaemonNamespace } from "./backend.js";

export interface ApplyResult {
  added: string[];
  changed: string[];
  unchanged: string[];
  removed: string[];
}

export interface ApplyOptions {
  /** How long to wait for one dependency's condition. */
  dependencyTimeoutMs: number;
  /** Progress lines for the caller ("waiting for db to be ready"). */
  onProgress?(message: string): void;
}

export async function applyDesiredState(
  ns: DaemonNamespace,
  previous: DesiredState | null,
  next: DesiredState,
  options: ApplyOptions,
): Promise<ApplyResult> {
  const diff = diffStates(previous, next);
  if (previous && diff.removed.length > 0) {
    const removed = new Set(diff.removed);
    for (const layer of stopOrder(previous)) {
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
  for (const layer of startOrder(next)) {
    await Promise.all(
      layer.map(async (id) => {
        const spec = next.services[id]!;
        for (const [dependency, condition] of Object.entries(spec.dependsOn)) {
          options.onProgress?.(`${id} waits for ${dependency} to be ${condition}`);
          await waitForCondition(ns, dependency, next.services[dependency]!.scale, condition, options.dependencyTimeoutMs);
        }
        if (!touched.has(id)) return;
        options.onProgress?.(`${diff.added.includes(id) ? "starting" : "updating"} ${id}`);
        await ns.ensureService(id, toServiceConfig(spec, { namespace: next.namespace, serviceId: id }));
      }),
    );
  }
  return diff;
}

function meets(event: ServiceEvent, condition: DependencyCondition): boolean {
  if (condition === "ready") return event.status === "online";
  if (condition === "completed") return event.status === "offline" && event.reason === "completed";
  // started: the process exists (or has already run and finished)
  return event.status === "online" || event.reason === "starting" || event.reason === "probe-failed" || event.reason === "completed";
}

/** Resolves once every process of `serviceId` meets the condition, according to the namespace's events. */
export async function waitForCondition(
  ns: DaemonNamespace,
  serviceId: string,
  scale: number,
  condition: DependencyCondition,
  timeoutMs: number,
): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const latest = new Map<number, ServiceEvent>();
  try {
    for await (const event of ns.watchServices({ signal: controller.signal })) {
      if (event.serviceId !== serviceId || event.warning) continue;
      latest.set(event.processId, event);
      if (Array.from({ length: scale }, (_, i) => latest.get(i)).every((e) => e !== undefined && meets(e, condition))) return;
    }
    const states = [...latest.values()].map((e) => `${e.processId}: ${e.status}${e.reason ? ` (${e.reason})` : ""}`).join(", ");
    throw new Error(`${serviceId} was not ${condition} within ${timeoutMs} ms${states ? ` [${states}]` : ""}`);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
