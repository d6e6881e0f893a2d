import type {
  V1Container,
  V1EnvVar,
  V1PodSpec,
  V1PodTemplateSpec,
  V1Probe,
  V1ResourceRequirements,
  V1Service,
  V1StatefulSet,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import { probeAction, renderHealthProbes } from "./probes.js";
import { ValidationError } from "../contract/errors.js";
import { withPeerAddrs } from "../contract/assignments.js";
import type { ServiceSchedulingConfig } from "../contract/scheduling.js";
import type { ServiceAssignments, ServiceConfig } from "../contract/types.js";
import { validateId, validateServiceConfig, type NormalizedServiceConfig } from "../contract/validation.js";
import { PROCESS_INDEX_ENV, escapeExpansion, renderArgs } from "./args.js";
import { checkLifecycleForKubernetes, renderLifecycle, renderPreStart } from "./lifecycle.js";
import { sha256Hex } from "../util/hash.js";
import {
  CONTAINER_NAME,
  INIT_CONTAINER_NAME,
  POD_INDEX_LABEL,
  POD_TEMPLATE_HASH_ANNOTATION,
  SCALE_LABEL,
  SECRET_DATA_KEY,
  clusterIpServiceName,
  isReservedLabelKey,
  objectName,
  secretName,
  selectorLabels,
  validateNamePrefix,
} from "./names.js";
import { assignPorts, isIanaServiceName } from "./ports.js";
import { renderScheduling, sortedRecord } from "./scheduling.js";

export type ImagePullPolicy = "Always" | "IfNotPresent" | "Never";

/** How services are rendered; every field has a default. */
export interface RenderOptions {
  /** Kubernetes namespace the objects live in (default "default"); part of the peer addresses. */
  kubernetesNamespace?: string;
  /** Prepended to every object name, so several environments can share a Kubernetes namespace. */
  namePrefix?: string;
  imagePullPolicy?: ImagePullPolicy;
  serviceAccount?: string;
  schedulingConfig?: ServiceSchedulingConfig;
  /** StorageClass of the scratch volume; default: the cluster's default StorageClass. */
  ephemeralVolumeStorageClass?: string;
  /** Size of the scratch volume when the service has no diskLimit (bytes, default 10 GiB). */
  defaultDiskBytes?: number;
  /** Where the scratch volume is mounted (default "/scratch"). */
  scratchDirectory?: string;
  /** Where the service's `secrets` are mounted, one file per secret (default "/run/secrets/corral"). */
  secretsDirectory?: string;
  /** DNS domain of the cluster (default "cluster.local"). */
  clusterDomain?: string;
  /**
   * How long pods stay on a node that is NotReady or unreachable (default 30 s,
   * as Materialize sets it; Kubernetes' own default is 300 s).
   */
  nodeFailureTolerationSeconds?: number;
}

export interface RenderedManifests {
  /** The headless Service: one DNS name per pod, Ready or not (the peer addresses). */
  service: V1Service;
  /**
   * The ClusterIP Service `<name>-svc` beside it: the service address, balanced by
   * kube-proxy over the Ready pods only. Absent for a service without ports
   * (Kubernetes refuses a ClusterIP Service with none).
   */
  clusterIpService?: V1Service;
  statefulSet: V1StatefulSet;
}

/** Everything ensureService needs from one rendering. */
export interface RenderedService extends RenderedManifests {
  name: string;
  podTemplateHash: string;
  /** Port name to port number. */
  ports: Record<string, number>;
  /** One DNS name per process. */
  hosts: string[];
  /** The name of the ClusterIP Service, rendered or not (ensure deletes it when the service has no ports). */
  clusterIpName: string;
  /** The ClusterIP Service's DNS name: the host of the service address. */
  serviceHost: string;
}

const DEFAULT_DISK_BYTES = 10 * 1024 ** 3;

/** Signals Kubernetes accepts as a container's stopSignal. */
const KUBERNETES_STOP_SIGNALS = new Set([
  "SIGABRT",
  "SIGALRM",
  "SIGBUS",
  "SIGCHLD",
  "SIGCLD",
  "SIGCONT",
  "SIGFPE",
  "SIGHUP",
  "SIGILL",
  "SIGINT",
  "SIGIO",
  "SIGIOT",
  "SIGKILL",
  "SIGPIPE",
  "SIGPOLL",
  "SIGPROF",
  "SIGPWR",
  "SIGQUIT",
  "SIGSEGV",
  "SIGSTKFLT",
  "SIGSTOP",
  "SIGSYS",
  "SIGTERM",
  "SIGTRAP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGUSR1",
  "SIGUSR2",
  "SIGVTALRM",
  "SIGWINCH",
  "SIGXCPU",
  "SIGXFSZ",
]);

/**
 * The headless Service, the ClusterIP Service (where the service has ports) and
 * the StatefulSet that `ensureService` would apply for this service. Pure: no
 * cluster is contacted. Throws ValidationError for input the orchestrator would refuse.
 */
export function renderManifests(namespace: string, id: string, config: ServiceConfig, options: RenderOptions = {}): RenderedManifests {
  const { service, clusterIpService, statefulSet } = renderService(namespace, id, validateForKubernetes(config), options);
  return clusterIpService ? { service, clusterIpService, statefulSet } : { service, statefulSet };
}

/** The contract's validation plus what only Kubernetes cares about. */
export function validateForKubernetes(config: ServiceConfig): NormalizedServiceConfig {
  const normalized = validateServiceConfig(config);
  for (const key of Object.keys(normalized.labels)) {
    if (isReservedLabelKey(key)) throw new ValidationError(`labels.${key}`, "is reserved for corral's own labels");
  }
  if (config.stopSignal !== undefined && !KUBERNETES_STOP_SIGNALS.has(config.stopSignal)) {
    throw new ValidationError("stopSignal", "is not a signal Kubernetes can send", config.stopSignal);
  }
  for (const field of ["user", "group"] as const) {
    const value = normalized[field];
    if (value !== undefined && numericId(value) === undefined) {
      const id = field === "user" ? "uid" : "gid";
      throw new ValidationError(
        field,
        `must be a numeric ${id} on Kubernetes (the pod's runAs${field === "user" ? "User" : "Group"}): names mean nothing to the cluster`,
        value,
      );
    }
  }
  checkLifecycleForKubernetes(normalized);
  if (normalized.volumes.length > 0)
    throw new ValidationError("volumes", "are for the process backend; on Kubernetes mount a PersistentVolumeClaim", normalized.volumes);
  const socketDir = normalized.ports.find((port) => port.socketDir);
  if (socketDir)
    throw new ValidationError(`ports.${socketDir.name}.socketDir`, "is for the process backend: Kubernetes ports are TCP", true);
  return normalized;
}

function numericId(value: string | number): number | undefined {
  if (typeof value === "number") return value;
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

export function renderService(
  namespace: string,
  id: string,
  config: NormalizedServiceConfig,
  options: RenderOptions = {},
): RenderedService {
  validateId("namespace", namespace);
  validateId("service id", id);
  const kubernetesNamespace = validateId("kubernetesNamespace", options.kubernetesNamespace ?? "default");
  const name = objectName(validateNamePrefix(options.namePrefix ?? ""), namespace, id);
  const ports = assignPorts(config.ports);
  const domain = options.clusterDomain ?? "cluster.local";
  const hosts = Array.from({ length: config.scale }, (_, i) => `${name}-${i}.${name}.${kubernetesNamespace}.svc.${domain}`);
  const clusterIpName = clusterIpServiceName(name);
  const serviceHost = `${clusterIpName}.${kubernetesNamespace}.svc.${domain}`;
  const matchLabels = selectorLabels(namespace, id);
  const { template, hash } = renderPodTemplate(namespace, id, config, config.scale, options);

  const objectLabels = sortedRecord({ ...config.labels, ...matchLabels });
  const servicePorts = config.ports.map((p) => ({ name: p.name, port: ports[p.name]!, targetPort: ports[p.name]!, protocol: "TCP" }));
  const service: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: kubernetesNamespace, labels: objectLabels },
    spec: {
      clusterIP: "None",
      selector: matchLabels,
      // Peers must find each other before they are Ready, or a service whose
      // readiness needs its peers would never become Ready.
      publishNotReadyAddresses: true,
      ports: servicePorts,
    },
  };
  // The service address: a virtual IP whose endpoints are the Ready pods only, so
  // kube-proxy never sends a new connection to a pod that is starting, failing its
  // readiness probe or terminating (a terminating pod leaves the endpoints at once;
  // preStop and the grace period let its open connections finish).
  const clusterIpService: V1Service | undefined =
    config.ports.length === 0
      ? undefined
      : {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: clusterIpName, namespace: kubernetesNamespace, labels: objectLabels },
          spec: {
            type: "ClusterIP",
            selector: matchLabels,
            publishNotReadyAddresses: false,
            ports: servicePorts.map((p) => ({ ...p })),
          },
        };
  const statefulSet: V1StatefulSet = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace: kubernetesNamespace, labels: objectLabels },
    spec: {
      replicas: config.scale,
      selector: { matchLabels },
      serviceName: name,
      podManagementPolicy: "Parallel",
      // corral replaces pods itself, one at a time and only those whose template changed.
      updateStrategy: { type: "OnDelete" },
      template,
    },
  };
  const rendered: RenderedService = { name, service, statefulSet, podTemplateHash: hash, ports, hosts, clusterIpName, serviceHost };
  if (clusterIpService) rendered.clusterIpService = clusterIpService;
  return rendered;
}

/**
 * The pod template for the service at a given scale, with its hash. The hash
 * covers everything but the scale label: a pod made for another scale is
 * current when its hash equals the template rendered for the scale it records.
 */
export function renderPodTemplate(
  namespace: string,
  id: string,
  config: NormalizedServiceConfig,
  scale: number,
  options: RenderOptions = {},
): { template: V1PodTemplateSpec; hash: string } {
  const kubernetesNamespace = options.kubernetesNamespace ?? "default";
  const name = objectName(options.namePrefix ?? "", namespace, id);
  const ports = assignPorts(config.ports);
  const scheduling = options.schedulingConfig ?? {};
  const disk = config.disk || scheduling.alwaysUseDisk === true;
  const scratchDirectory = options.scratchDirectory ?? "/scratch";
  const secretsDirectory = config.secrets.length > 0 ? (options.secretsDirectory ?? "/run/secrets/corral") : undefined;
  const namePrefix = options.namePrefix ?? "";
  const domain = options.clusterDomain ?? "cluster.local";

  const listenAddrs = Object.fromEntries(config.ports.map((p) => [p.name, `0.0.0.0:${ports[p.name]}`]));
  const peerAddrs = Array.from({ length: scale }, (_, i) =>
    Object.fromEntries(config.ports.map((p) => [p.name, `${name}-${i}.${name}.${kubernetesNamespace}.svc.${domain}:${ports[p.name]}`])),
  );
  // %A:<port>: the ClusterIP Service, which balances over the Ready pods.
  const serviceAddrs = Object.fromEntries(
    config.ports.map((p) => [p.name, `${clusterIpServiceName(name)}.${kubernetesNamespace}.svc.${domain}:${ports[p.name]}`]),
  );
  const assignmentsFor = (processIndex: number): ServiceAssignments => {
    const a = withPeerAddrs({ processIndex, listenAddrs: { ...listenAddrs }, serviceAddrs: { ...serviceAddrs } }, peerAddrs);
    if (disk) a.scratchDirectory = scratchDirectory;
    if (secretsDirectory) a.secretsDirectory = secretsDirectory;
    return a;
  };
  const { args, usesIndex } = renderArgs(config, assignmentsFor, scale);

  const resources: V1ResourceRequirements = {};
  const quantities: Record<string, string> = {};
  // Requests equal limits: the scheduler reserves what the process may use, so it is never starved by a neighbour.
  if (config.cpuLimit) quantities.cpu = `${config.cpuLimit.millicpus}m`;
  if (config.memoryLimit) quantities.memory = String(config.memoryLimit.bytes);
  if (Object.keys(quantities).length > 0) {
    resources.limits = { ...quantities };
    resources.requests = { ...quantities };
  }

  // The Secrets the secrets controller keeps (one per id, the value under SECRET_DATA_KEY), read by the kubelet, never by corral.
  const secretRef = (id: string) => ({ name: secretName(namePrefix, id), key: SECRET_DATA_KEY });
  const plainEnv = { ...config.env, ...(secretsDirectory ? { CORRAL_SECRETS_DIR: secretsDirectory } : {}) };
  const env: V1EnvVar[] = [
    ...Object.entries(plainEnv).map(([name, value]): V1EnvVar => ({ name, value: escapeExpansion(value) })),
    ...Object.entries(config.secretEnv).map(([name, id]): V1EnvVar => ({ name, valueFrom: { secretKeyRef: secretRef(id) } })),
  ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (usesIndex) env.push({ name: PROCESS_INDEX_ENV, valueFrom: { fieldRef: { fieldPath: `metadata.labels['${POD_INDEX_LABEL}']` } } });

  const container: V1Container = {
    name: CONTAINER_NAME,
    image: config.image,
    args,
  };
  if (options.imagePullPolicy) container.imagePullPolicy = options.imagePullPolicy;
  if (env.length > 0) container.env = env;
  if (config.ports.length > 0) {
    container.ports = config.ports.map((p) => {
      const port: { containerPort: number; protocol: string; name?: string } = { containerPort: ports[p.name]!, protocol: "TCP" };
      if (isIanaServiceName(p.name)) port.name = p.name;
      return port;
    });
  }
  if (Object.keys(resources).length > 0) container.resources = resources;
  const probe = renderReadinessProbe(config, ports);
  if (probe) container.readinessProbe = probe;
  Object.assign(container, renderHealthProbes(config, ports));
  const handlers = renderLifecycle(config);
  if (handlers || config.stopSignal !== "SIGTERM")
    container.lifecycle = { ...handlers, ...(config.stopSignal !== "SIGTERM" ? { stopSignal: config.stopSignal } : {}) };
  if (scheduling.securityContextEnabled) {
    container.securityContext = {
      privileged: false,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      seccompProfile: { type: "RuntimeDefault" },
      capabilities: { drop: ["ALL"] },
    };
  }

  const volumes: V1Volume[] = [];
  const volumeMounts: V1VolumeMount[] = [];
  if (disk) {
    volumeMounts.push({ name: "scratch", mountPath: scratchDirectory });
    const spec: { accessModes: string[]; resources: { requests: Record<string, string> }; storageClassName?: string } = {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: String(config.diskLimit?.bytes ?? options.defaultDiskBytes ?? DEFAULT_DISK_BYTES) } },
    };
    if (options.ephemeralVolumeStorageClass) spec.storageClassName = options.ephemeralVolumeStorageClass;
    volumes.push({ name: "scratch", ephemeral: { volumeClaimTemplate: { spec } } });
  }
  if (secretsDirectory) {
    volumeMounts.push({ name: "secrets", mountPath: secretsDirectory, readOnly: true });
    volumes.push({
      name: "secrets",
      projected: {
        // 0400 as on the process backend; a non-root pod's user is the image's, unknown here, so its files are 0444 then.
        defaultMode: scheduling.securityContextEnabled ? 0o444 : 0o400,
        sources: config.secrets.map((id) => ({ secret: { name: secretRef(id).name, items: [{ key: SECRET_DATA_KEY, path: id }] } })),
      },
    });
  }
  if (volumeMounts.length > 0) container.volumeMounts = volumeMounts;

  const tolerationSeconds = options.nodeFailureTolerationSeconds ?? 30;
  const tolerations: V1Toleration[] = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"].map((key) => ({
    key,
    operator: "Exists",
    effect: "NoExecute",
    tolerationSeconds,
  }));

  const spec: V1PodSpec = {
    containers: [container],
    terminationGracePeriodSeconds: Math.ceil(config.terminationGracePeriodMs / 1000),
    tolerations,
  };
  if (config.initContainerImage) {
    const init: V1Container = { name: INIT_CONTAINER_NAME, image: config.initContainerImage };
    if (options.imagePullPolicy) init.imagePullPolicy = options.imagePullPolicy;
    if (container.resources) init.resources = container.resources;
    if (container.securityContext) init.securityContext = container.securityContext;
    init.env = [
      { name: "CORRAL_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "CORRAL_POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "CORRAL_NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    ];
    spec.initContainers = [init];
  }
  const preStart = renderPreStart(config, container);
  if (preStart) spec.initContainers = [...(spec.initContainers ?? []), preStart];
  if (volumes.length > 0) spec.volumes = volumes;
  const runAsUser = config.user === undefined ? undefined : numericId(config.user);
  const runAsGroup = config.group === undefined ? undefined : numericId(config.group);
  if (runAsUser !== undefined || runAsGroup !== undefined) {
    spec.securityContext = {
      ...(runAsUser !== undefined ? { runAsUser } : {}),
      ...(runAsGroup !== undefined ? { runAsGroup } : {}),
    };
  }
  // A stop signal other than the image's needs the pod's OS spelled out (ContainerStopSignals).
  if (container.lifecycle?.stopSignal) spec.os = { name: "linux" };
  if (options.serviceAccount) spec.serviceAccountName = options.serviceAccount;
  const placement = renderScheduling(namespace, selectorLabels(namespace, id), config, scale, scheduling);
  if (placement.nodeSelector) spec.nodeSelector = placement.nodeSelector;
  if (placement.affinity) spec.affinity = placement.affinity;
  if (placement.topologySpreadConstraints) spec.topologySpreadConstraints = placement.topologySpreadConstraints;

  const labels = sortedRecord({ ...config.labels, ...selectorLabels(namespace, id) });
  const annotations = sortedRecord({ ...config.annotations });
  const template: V1PodTemplateSpec = { metadata: { labels, annotations }, spec };
  const hash = sha256Hex(template);
  template.metadata = {
    labels: sortedRecord({ ...labels, [SCALE_LABEL]: String(scale) }),
    annotations: sortedRecord({ ...annotations, [POD_TEMPLATE_HASH_ANNOTATION]: hash }),
  };
  return { template, hash };
}

function renderReadinessProbe(config: NormalizedServiceConfig, ports: Record<string, number>): V1Probe | undefined {
  const r = config.readiness;
  if (!r) return undefined;
  // The action last, as before: the pod template's hash stays what running pods carry.
  return {
    periodSeconds: Math.max(1, Math.ceil(r.periodMs / 1000)),
    timeoutSeconds: Math.max(1, Math.ceil(r.timeoutMs / 1000)),
    failureThreshold: r.failureThreshold,
    ...probeAction("readiness", r, ports),
  };
}
