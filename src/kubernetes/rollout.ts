import { setTimeout as sleep } from "node:timers/promises";
import type { V1Pod } from "@kubernetes/client-node";
import type { KubeClient } from "./client.js";
import { KubernetesTimeoutError } from "./errors.js";
import { POD_TEMPLATE_HASH_ANNOTATION, SCALE_LABEL, labelSelectorString, podIndex, podName, selectorLabels } from "./names.js";

export interface RolloutTarget {
  namespace: string;
  id: string;
  /** The StatefulSet's name. */
  name: string;
  scale: number;
  /** The template hash a pod made for `scale` processes should carry. */
  hashAt(scale: number): string;
}

export interface WaitOptions {
  timeoutMs: number;
  pollIntervalMs: number;
  signal?: AbortSignal;
}

function isReady(pod: V1Pod): boolean {
  return (
    pod.metadata?.deletionTimestamp === undefined && pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true
  );
}

/** Whether a pod runs the current config: its hash matches the template rendered for the scale it was made for. */
export function isCurrent(pod: V1Pod, target: RolloutTarget): boolean {
  const scale = Number(pod.metadata?.labels?.[SCALE_LABEL]);
  if (!Number.isSafeInteger(scale) || scale < 1) return false;
  return pod.metadata?.annotations?.[POD_TEMPLATE_HASH_ANNOTATION] === target.hashAt(scale);
}

/**
 * Replaces the pods whose template changed, one at a time, highest index first,
 * each replacement Ready before the next pod goes. The StatefulSet's OnDelete
 * strategy leaves this to corral, so a change of scale alone (which changes
 * the args' peer list) replaces nothing.
 */
export async function replaceChangedPods(client: KubeClient, target: RolloutTarget, options: WaitOptions): Promise<string[]> {
  const { items } = await client.listPods(labelSelectorString(selectorLabels(target.namespace, target.id)));
  const stale = items
    .map((pod) => ({ pod, index: podIndex(target.name, pod.metadata?.name ?? "") }))
    .filter(
      (p): p is { pod: V1Pod; index: number } =>
        p.index !== undefined && p.index < target.scale && p.pod.metadata?.deletionTimestamp === undefined,
    )
    .filter(({ pod }) => !isCurrent(pod, target))
    .sort((a, b) => b.index - a.index);
  const replaced: string[] = [];
  for (const { pod, index } of stale) {
    const name = podName(target.name, index);
    await client.deletePod(name);
    replaced.push(name);
    await waitFor(
      async () => {
        const next = await client.getPod(name);
        return next !== undefined && next.metadata?.uid !== pod.metadata?.uid && isCurrent(next, target) && isReady(next);
      },
      options,
      () =>
        `pod "${name}" did not come back Ready with the new template within ${options.timeoutMs} ms; the rolling replacement stopped there`,
    );
  }
  return replaced;
}

/** Resolves once no pod of the service with index >= `from` is left. */
export async function waitForPodsGone(
  client: KubeClient,
  target: Omit<RolloutTarget, "hashAt" | "scale">,
  from: number,
  options: WaitOptions,
): Promise<void> {
  const selector = labelSelectorString(selectorLabels(target.namespace, target.id));
  await waitFor(
    async () => {
      const { items } = await client.listPods(selector);
      return !items.some((pod) => (podIndex(target.name, pod.metadata?.name ?? "") ?? -1) >= from);
    },
    options,
    () => `pods of "${target.name}" from index ${from} were still present after ${options.timeoutMs} ms`,
  );
}

async function waitFor(check: () => Promise<boolean>, options: WaitOptions, describe: () => string): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new KubernetesTimeoutError(describe());
    await sleep(options.pollIntervalMs, undefined, options.signal ? { signal: options.signal } : undefined);
  }
}
