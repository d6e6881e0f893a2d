import type {
  V1Affinity,
  V1LabelSelector,
  V1NodeSelectorRequirement,
  V1NodeSelectorTerm,
  V1PodAffinityTerm,
  V1TopologySpreadConstraint,
} from "@kubernetes/client-node";
import type { LabelSelector, ServiceSchedulingConfig } from "../contract/scheduling.js";
import type { NormalizedServiceConfig } from "../contract/validation.js";
import { NAMESPACE_LABEL, SCALE_LABEL } from "./names.js";

/** Node label naming a node's zone, as Materialize's orchestrator uses it for availability zones. */
export const AVAILABILITY_ZONE_NODE_LABEL = "materialize.cloud/availability-zone";
export const ZONE_TOPOLOGY_KEY = "topology.kubernetes.io/zone";
export const HOSTNAME_TOPOLOGY_KEY = "kubernetes.io/hostname";
/** Weight of node preferences when `softNodesAffinity` turns requirements into preferences. */
export const SOFT_NODE_AFFINITY_WEIGHT = 100;

export interface PodScheduling {
  affinity?: V1Affinity;
  nodeSelector?: Record<string, string>;
  topologySpreadConstraints?: V1TopologySpreadConstraint[];
}

/**
 * Placement as Materialize's Kubernetes orchestrator maps it: availability zones
 * as node affinity, otherReplicasSelector as pod anti-affinity per host,
 * replicasSelector as topology spread across zones, multiPodAzAffinityWeight as a
 * preference to keep one service's pods in one zone.
 */
export function renderScheduling(
  namespace: string,
  matchLabels: Record<string, string>,
  config: NormalizedServiceConfig,
  scale: number,
  scheduling: ServiceSchedulingConfig,
): PodScheduling {
  const out: PodScheduling = {};
  const soft = scheduling.softNodesAffinity === true;
  const affinity: V1Affinity = {};

  const nodeSelector = { ...config.nodeSelector };
  const requirements: V1NodeSelectorRequirement[] = [];
  if (config.availabilityZones && config.availabilityZones.length > 0) {
    requirements.push({ key: AVAILABILITY_ZONE_NODE_LABEL, operator: "In", values: [...config.availabilityZones] });
  }
  if (soft) {
    // A preference cannot be written as a nodeSelector, so the selector joins the affinity.
    for (const key of Object.keys(nodeSelector).sort()) requirements.push({ key, operator: "In", values: [nodeSelector[key]!] });
  } else if (Object.keys(nodeSelector).length > 0) {
    out.nodeSelector = sortedRecord(nodeSelector);
  }
  if (requirements.length > 0) {
    const term: V1NodeSelectorTerm = { matchExpressions: requirements };
    affinity.nodeAffinity = soft
      ? { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: SOFT_NODE_AFFINITY_WEIGHT, preference: term }] }
      : { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [term] } };
  }

  // Only pods of this corral namespace count: another namespace's replicas are not "other replicas".
  const scoped = (selector: LabelSelector, extra?: V1LabelSelector["matchExpressions"]): V1LabelSelector =>
    toKubernetesSelector(selector, { [NAMESPACE_LABEL]: namespace }, extra);

  if (config.otherReplicasSelector && config.otherReplicasSelector.length > 0) {
    affinity.podAntiAffinity = {
      requiredDuringSchedulingIgnoredDuringExecution: config.otherReplicasSelector.map((selector): V1PodAffinityTerm => ({
        labelSelector: scoped(selector),
        topologyKey: HOSTNAME_TOPOLOGY_KEY,
      })),
    };
  }

  if (scheduling.multiPodAzAffinityWeight !== undefined) {
    affinity.podAffinity = {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: scheduling.multiPodAzAffinityWeight,
          podAffinityTerm: { labelSelector: { matchLabels: { ...matchLabels } }, topologyKey: ZONE_TOPOLOGY_KEY },
        },
      ],
    };
  }
  if (Object.keys(affinity).length > 0) out.affinity = affinity;

  const spread = scheduling.topologySpread;
  if (spread?.enabled && (!spread.ignoreNonSingularScale || scale <= 1)) {
    const extra = spread.ignoreNonSingularScale ? [{ key: SCALE_LABEL, operator: "In", values: ["1"] }] : undefined;
    const selectors: V1LabelSelector[] =
      config.replicasSelector && config.replicasSelector.length > 0
        ? config.replicasSelector.map((s) => scoped(s, extra))
        : [toKubernetesSelector({ matchLabels }, {}, extra)];
    out.topologySpreadConstraints = selectors.map((labelSelector) => {
      const constraint: V1TopologySpreadConstraint = {
        labelSelector,
        maxSkew: spread.maxSkew ?? 1,
        topologyKey: ZONE_TOPOLOGY_KEY,
        whenUnsatisfiable: spread.soft ? "ScheduleAnyway" : "DoNotSchedule",
      };
      // Kubernetes accepts minDomains only with DoNotSchedule.
      if (spread.minDomains !== undefined && !spread.soft) constraint.minDomains = spread.minDomains;
      return constraint;
    });
  }
  return out;
}

export function toKubernetesSelector(
  selector: LabelSelector,
  extraLabels: Record<string, string>,
  extraExpressions?: V1LabelSelector["matchExpressions"],
): V1LabelSelector {
  const out: V1LabelSelector = {};
  const matchLabels = { ...selector.matchLabels, ...extraLabels };
  if (Object.keys(matchLabels).length > 0) out.matchLabels = sortedRecord(matchLabels);
  const expressions = [
    ...(selector.matchExpressions ?? []).map(({ key, operator, values }) =>
      // Exists and DoesNotExist take no values; In and NotIn need them.
      operator === "Exists" || operator === "DoesNotExist" ? { key, operator } : { key, operator, values: [...(values ?? [])] },
    ),
    ...(extraExpressions ?? []),
  ];
  if (expressions.length > 0) out.matchExpressions = expressions;
  return out;
}

export function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
