import type { ServiceProcessMetrics } from "../contract/types.js";
import type { KubeClient } from "./client.js";
import { CONTAINER_NAME, labelSelectorString, podIndex, selectorLabels } from "./names.js";
import { parseQuantity } from "./quantity.js";

const NO_METRICS: ServiceProcessMetrics = { cpuNanoCores: null, memoryBytes: null, diskBytes: null };

/**
 * One entry per process from metrics.k8s.io PodMetrics. Nulls where metrics-server
 * is absent or has no sample yet for a pod; disk use has no Kubernetes metrics API,
 * so diskBytes is always null.
 */
export async function fetchMetrics(
  client: KubeClient,
  namespace: string,
  id: string,
  name: string,
  scale: number,
): Promise<ServiceProcessMetrics[]> {
  const list = await client.listPodMetrics(labelSelectorString(selectorLabels(namespace, id)));
  const result: ServiceProcessMetrics[] = Array.from({ length: scale }, () => ({ ...NO_METRICS }));
  for (const item of list?.items ?? []) {
    const index = item.metadata?.name === undefined ? undefined : podIndex(name, item.metadata.name);
    if (index === undefined || index >= scale) continue;
    const containers = item.containers ?? [];
    const container = containers.find((c) => c.name === CONTAINER_NAME) ?? containers[0];
    const cpuCores = parseQuantity(container?.usage?.cpu);
    const memory = parseQuantity(container?.usage?.memory);
    result[index] = {
      cpuNanoCores: cpuCores === undefined ? null : Math.round(cpuCores * 1e9),
      memoryBytes: memory === undefined ? null : Math.round(memory),
      diskBytes: null,
    };
  }
  return result;
}
