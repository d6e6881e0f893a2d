import type {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  Log,
  Watch,
  V1Pod,
  V1Secret,
  V1Service,
  V1StatefulSet,
} from "@kubernetes/client-node";
import type { Writable } from "node:stream";
import { reportSurvivable } from "../util/diagnostics.js";
import { statusOf, type ApiCall } from "./errors.js";
import { withRetry, type RetryOptions } from "./retry.js";
import { type PodMetricsList, podMetricsListSchema } from "./wire.js";

/** One watch event as the API server sends it (objects are plain JSON, not client-node classes). */
export interface RawWatchEvent {
  type: string;
  object: unknown;
}

type ClientNode = typeof import("@kubernetes/client-node");
let clientNode: ClientNode | undefined;

/**
 * @kubernetes/client-node takes most of a second to import: it is loaded on
 * first use of the Kubernetes backend, not by everyone who imports corral.
 */
export async function loadClientNode(): Promise<ClientNode> {
  clientNode ??= await import("@kubernetes/client-node");
  return clientNode;
}

function k8s(): ClientNode {
  if (!clientNode)
    throw new Error("the Kubernetes client is not loaded yet: create the orchestrator with `await KubernetesOrchestrator.create(config)`");
  return clientNode;
}

let apply: ReturnType<ClientNode["setHeaderOptions"]> | undefined;
function applyOptions(): ReturnType<ClientNode["setHeaderOptions"]> {
  const { setHeaderOptions, PatchStrategy } = k8s();
  apply ??= setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply);
  return apply;
}

/**
 * The few API calls corral makes, each retried where transient and failing with
 * an error that names the verb and resource. All calls are namespaced: corral
 * needs no cluster-wide permission.
 */
export class KubeClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly custom: CustomObjectsApi;
  readonly #watch: Watch;
  readonly #log: Log;

  constructor(
    readonly kubeConfig: KubeConfig,
    readonly namespace: string,
    readonly fieldManager: string,
    readonly retry: RetryOptions = {},
  ) {
    const { CoreV1Api, AppsV1Api, CustomObjectsApi, Watch, Log } = k8s();
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#watch = new Watch(kubeConfig);
    this.#log = new Log(kubeConfig);
  }

  #call<T>(verb: string, resource: string, name: string | undefined, fn: () => Promise<T>): Promise<T> {
    const call: ApiCall = { verb, resource, namespace: this.namespace };
    if (name !== undefined) call.name = name;
    return withRetry(call, fn, this.retry);
  }

  /** Like #call, but a 404 is an answer (undefined), not an error. */
  async #optional<T>(verb: string, resource: string, name: string | undefined, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.#call(verb, resource, name, fn);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  // Server-side apply, forced: corral is the only writer of these fields, and a
  // conflict with an earlier manager (kubectl edit) is resolved in corral's favour.
  applyService(body: V1Service): Promise<V1Service> {
    const name = body.metadata!.name!;
    return this.#call("patch", "services", name, () =>
      this.core.patchNamespacedService(
        { name, namespace: this.namespace, body, fieldManager: this.fieldManager, force: true },
        applyOptions(),
      ),
    );
  }

  applyStatefulSet(body: V1StatefulSet): Promise<V1StatefulSet> {
    const name = body.metadata!.name!;
    return this.#call("patch", "statefulsets.apps", name, () =>
      this.apps.patchNamespacedStatefulSet(
        { name, namespace: this.namespace, body, fieldManager: this.fieldManager, force: true },
        applyOptions(),
      ),
    );
  }

  applySecret(body: V1Secret): Promise<V1Secret> {
    const name = body.metadata!.name!;
    return this.#call("patch", "secrets", name, () =>
      this.core.patchNamespacedSecret(
        { name, namespace: this.namespace, body, fieldManager: this.fieldManager, force: true },
        applyOptions(),
      ),
    );
  }

  getStatefulSet(name: string): Promise<V1StatefulSet | undefined> {
    return this.#optional("get", "statefulsets.apps", name, () => this.apps.readNamespacedStatefulSet({ name, namespace: this.namespace }));
  }

  async listStatefulSets(labelSelector: string): Promise<V1StatefulSet[]> {
    const list = await this.#call("list", "statefulsets.apps", undefined, () =>
      this.apps.listNamespacedStatefulSet({ namespace: this.namespace, labelSelector }),
    );
    return list.items;
  }

  getPod(name: string): Promise<V1Pod | undefined> {
    return this.#optional("get", "pods", name, () => this.core.readNamespacedPod({ name, namespace: this.namespace }));
  }

  async listPods(labelSelector: string): Promise<{ items: V1Pod[]; resourceVersion: string | undefined }> {
    const list = await this.#call("list", "pods", undefined, () =>
      this.core.listNamespacedPod({ namespace: this.namespace, labelSelector }),
    );
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion };
  }

  async deletePod(name: string): Promise<void> {
    await this.#optional("delete", "pods", name, () => this.core.deleteNamespacedPod({ name, namespace: this.namespace }));
  }

  async deleteStatefulSet(name: string): Promise<void> {
    // Background: the StatefulSet goes at once, its pods are garbage-collected after.
    await this.#optional("delete", "statefulsets.apps", name, () =>
      this.apps.deleteNamespacedStatefulSet({ name, namespace: this.namespace, propagationPolicy: "Background" }),
    );
  }

  getService(name: string): Promise<V1Service | undefined> {
    return this.#optional("get", "services", name, () => this.core.readNamespacedService({ name, namespace: this.namespace }));
  }

  /**
   * Deletes a Service; with `uid`, only that incarnation of it. A Service that is
   * gone (404), or was replaced since it was read (409: the uid precondition
   * failed, so it is someone else's now), is left as it is.
   */
  async deleteService(name: string, uid?: string): Promise<void> {
    try {
      await this.#optional("delete", "services", name, () =>
        this.core.deleteNamespacedService({
          name,
          namespace: this.namespace,
          ...(uid !== undefined ? { body: { preconditions: { uid } } } : {}),
        }),
      );
    } catch (error) {
      if (uid !== undefined && statusOf(error) === 409) return;
      throw error;
    }
  }

  getSecret(name: string): Promise<V1Secret | undefined> {
    return this.#optional("get", "secrets", name, () => this.core.readNamespacedSecret({ name, namespace: this.namespace }));
  }

  async listSecrets(labelSelector: string): Promise<V1Secret[]> {
    const list = await this.#call("list", "secrets", undefined, () =>
      this.core.listNamespacedSecret({ namespace: this.namespace, labelSelector }),
    );
    return list.items;
  }

  async deleteSecret(name: string): Promise<void> {
    await this.#optional("delete", "secrets", name, () => this.core.deleteNamespacedSecret({ name, namespace: this.namespace }));
  }

  /** PodMetrics from metrics.k8s.io; undefined where no metrics-server serves that API. */
  async listPodMetrics(labelSelector: string): Promise<PodMetricsList | undefined> {
    try {
      const list: unknown = await this.#call("list", "pods.metrics.k8s.io", undefined, () =>
        this.custom.listNamespacedCustomObject({
          group: "metrics.k8s.io",
          version: "v1beta1",
          namespace: this.namespace,
          plural: "pods",
          labelSelector,
        }),
      );
      const parsed = podMetricsListSchema.safeParse(list);
      if (parsed.success) return parsed.data;
      // Metrics are a view, not a decision: an answer we cannot read is reported, and reads as "no samples".
      reportSurvivable("kubernetes.metrics", "parse PodMetricsList", parsed.error, { namespace: this.namespace });
      return undefined;
    } catch (error) {
      // 404: the API is not registered; 503: registered but metrics-server is down.
      const status = statusOf(error);
      if (status === 404 || status === 503) return undefined;
      throw error;
    }
  }

  /**
   * Starts one watch of pods. `onDone` runs once, with the error that ended it
   * (an Error with statusCode for an HTTP error) or null when the server closed it.
   */
  watchPods(
    labelSelector: string,
    resourceVersion: string | undefined,
    onEvent: (event: RawWatchEvent) => void,
    onDone: (error: unknown) => void,
  ): Promise<AbortController> {
    const query: Record<string, string | boolean> = { labelSelector, allowWatchBookmarks: true };
    if (resourceVersion !== undefined) query.resourceVersion = resourceVersion;
    return this.#watch.watch(
      `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`,
      query,
      (type: string, object: unknown) => onEvent({ type, object }),
      onDone,
    );
  }

  /** Streams a container's log into `stream`; resolves once the request is answered. */
  streamLog(
    pod: string,
    container: string,
    stream: Writable,
    options: { follow: boolean; tailLines?: number; sinceTime?: string },
  ): Promise<AbortController> {
    return this.#call("get", "pods/log", pod, () =>
      this.#log.log(this.namespace, pod, container, stream, { ...options, timestamps: true }),
    );
  }
}

export interface KubeConfigSource {
  /** A kubeconfig file path or a loaded KubeConfig; default: $KUBECONFIG, ~/.kube/config, else in-cluster. */
  kubeconfig?: string | KubeConfig;
  /** A context of the kubeconfig other than its current one. */
  context?: string;
}

export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const { KubeConfig } = k8s();
  let kc: KubeConfig;
  if (source.kubeconfig instanceof KubeConfig) {
    kc = source.kubeconfig;
  } else {
    kc = new KubeConfig();
    if (typeof source.kubeconfig === "string") kc.loadFromFile(source.kubeconfig);
    else kc.loadFromDefault();
  }
  if (source.context !== undefined) kc.setCurrentContext(source.context);
  if (!kc.getCurrentCluster()) throw new Error("no Kubernetes cluster configured: set KUBECONFIG, pass kubeconfig, or run in a pod");
  return kc;
}

/** The namespace of the kubeconfig's current context, as kubectl would use it. */
export function contextNamespace(kc: KubeConfig): string | undefined {
  const context = kc.getContextObject(kc.getCurrentContext());
  return context?.namespace ?? undefined;
}
