import { ValidationError } from "../contract/errors.js";

/** Labels and annotations corral owns. User labels under this prefix are refused. */
export const LABEL_PREFIX = "corral.dev/";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "corral";
export const NAMESPACE_LABEL = `${LABEL_PREFIX}namespace`;
export const SERVICE_ID_LABEL = `${LABEL_PREFIX}service-id`;
/** On pods only: the scale the pod was created for (its args' peer list depends on it). */
export const SCALE_LABEL = `${LABEL_PREFIX}scale`;
export const SECRET_ID_LABEL = `${LABEL_PREFIX}secret-id`;
export const POD_TEMPLATE_HASH_ANNOTATION = `${LABEL_PREFIX}pod-template-hash`;
/** Set by the StatefulSet controller (Kubernetes >= 1.28) on every pod it creates. */
export const POD_INDEX_LABEL = "apps.kubernetes.io/pod-index";
export const CONTAINER_NAME = "service";
export const INIT_CONTAINER_NAME = "init";
export const SECRET_DATA_KEY = "contents";

/**
 * Service objects need a DNS-1035 label; a StatefulSet's name must leave room for
 * the "-<revision hash>" the controller appends in the controller-revision-hash
 * label (63 characters), hence 52.
 */
export const MAX_OBJECT_NAME_LENGTH = 52;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const NAME_PREFIX = /^([a-z]([-a-z0-9]*)?)?$/;

export function validateNamePrefix(prefix: string): string {
  if (typeof prefix !== "string" || !NAME_PREFIX.test(prefix) || prefix.length > 30) {
    throw new ValidationError(
      "namePrefix",
      "must be empty or start with a lowercase letter, contain only [a-z0-9-] and be at most 30 characters",
      prefix,
    );
  }
  return prefix;
}

/** The name of the Service and StatefulSet of one corral service. */
export function objectName(namePrefix: string, namespace: string, id: string): string {
  const name = `${namePrefix}${namespace}-${id}`;
  if (name.length > MAX_OBJECT_NAME_LENGTH || !DNS_1035_LABEL.test(name)) {
    throw new ValidationError(
      "service id",
      `with its namespace and the name prefix it must form a Kubernetes object name "<prefix><namespace>-<id>" that starts with a letter and is at most ${MAX_OBJECT_NAME_LENGTH} characters`,
      name,
    );
  }
  return name;
}

/**
 * The ClusterIP Service beside the headless one: the service address, balanced by
 * kube-proxy over the Ready pods. At most 52 + 4 characters, so still a DNS-1035
 * label. The name can be another service's headless Service name (service "b" of
 * namespace "a" and service "b-svc" of namespace "a" both want "a-b-svc"), so
 * corral checks a Service's labels before it applies or deletes one.
 */
export const CLUSTER_IP_SERVICE_SUFFIX = "-svc";

export function clusterIpServiceName(objectName: string): string {
  return `${objectName}${CLUSTER_IP_SERVICE_SUFFIX}`;
}

export function podName(objectName: string, index: number): string {
  return `${objectName}-${index}`;
}

/** The index of a StatefulSet pod, from its name "<statefulset>-<index>". */
export function podIndex(objectName: string, pod: string): number | undefined {
  if (!pod.startsWith(`${objectName}-`)) return undefined;
  const rest = pod.slice(objectName.length + 1);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : undefined;
}

export function secretName(namePrefix: string, id: string): string {
  return `${namePrefix}corral-secret-${id}`;
}

/** Labels that select exactly the pods of one service; immutable once the StatefulSet exists. */
export function selectorLabels(namespace: string, id: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [NAMESPACE_LABEL]: namespace, [SERVICE_ID_LABEL]: id };
}

export function labelSelectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

export function isReservedLabelKey(key: string): boolean {
  return key.startsWith(LABEL_PREFIX) || key === MANAGED_BY_LABEL;
}
