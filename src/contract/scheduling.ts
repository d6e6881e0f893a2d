/** Kubernetes-style label selector requirement, kept backend-neutral. */
export interface LabelSelectionRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

/**
 * Selects services by label: every `matchLabels` pair and every requirement in
 * `matchExpressions` must hold.
 */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectionRequirement[];
}

export function matchesLabelSelector(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    const value = labels[key];
    if (operator === "Exists" && !has) return false;
    if (operator === "DoesNotExist" && has) return false;
    if (operator === "In" && !(has && values.includes(value as string))) return false;
    if (operator === "NotIn" && has && values.includes(value as string)) return false;
  }
  return true;
}

/**
 * Cluster-wide placement policy. Only the Kubernetes backend acts on it; the
 * process backend accepts and stores it so one control plane drives both.
 * Field meanings follow Materialize's ServiceSchedulingConfig.
 */
export interface ServiceSchedulingConfig {
  /** Weight of the preference to spread a service's processes across zones. */
  multiPodAzAffinityWeight?: number;
  topologySpread?: {
    enabled: boolean;
    ignoreNonSingularScale?: boolean;
    maxSkew?: number;
    minDomains?: number;
    soft?: boolean;
  };
  /** Make node-selector affinity a preference instead of a requirement. */
  softNodesAffinity?: boolean;
  alwaysUseDisk?: boolean;
  securityContextEnabled?: boolean;
}
