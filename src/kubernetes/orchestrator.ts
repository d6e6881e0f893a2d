import type { KubeConfig } from "@kubernetes/client-node";
import { KUBERNETES_ORCHESTRATOR_DEFAULTS } from "../contract/defaults.js";
import { OrchestratorClosedError, ValidationError } from "../contract/errors.js";
import type { ServiceSchedulingConfig } from "../contract/scheduling.js";
import type { NamespacedOrchestrator, Orchestrator, SecretsController } from "../contract/types.js";
import { validateId } from "../contract/validation.js";
import { KubeClient, contextNamespace, loadClientNode, loadKubeConfig } from "./client.js";
import type { RenderOptions } from "./manifests.js";
import { NamespacedKubernetesOrchestrator } from "./namespaced.js";
import { validateNamePrefix } from "./names.js";
import type { RetryOptions } from "./retry.js";
import { KubernetesSecretsController } from "./secrets.js";

/** How objects are rendered (RenderOptions, less the scratch mount point) plus how the orchestrator talks to the cluster. */
export interface KubernetesOrchestratorConfig extends Omit<RenderOptions, "scratchDirectory"> {
  /** A kubeconfig file path or a loaded KubeConfig; default: $KUBECONFIG or ~/.kube/config, else in-cluster credentials. */
  kubeconfig?: string | KubeConfig;
  /** A kubeconfig context other than the current one. */
  context?: string;
  /** Where services live; default: the context's namespace, else "default". */
  kubernetesNamespace?: string;
  /** Initial scheduling config of every namespace; `updateSchedulingConfig` changes it per namespace. */
  schedulingConfig?: ServiceSchedulingConfig;
  /** Server-side apply field manager. Default: KUBERNETES_ORCHESTRATOR_DEFAULTS.fieldManager ("corral"). */
  fieldManager?: string;
  retry?: RetryOptions;
  /** How long one replaced pod may take to come back Ready. Default: KUBERNETES_ORCHESTRATOR_DEFAULTS (300 s). */
  rolloutTimeoutMs?: number;
  /** How long dropService and scale-down wait for pods to go. Default: KUBERNETES_ORCHESTRATOR_DEFAULTS (120 s). */
  stopTimeoutMs?: number;
  /** How often rollouts and stops look at the pods. Default: KUBERNETES_ORCHESTRATOR_DEFAULTS (500 ms). */
  pollIntervalMs?: number;
  /** Events a watcher may fall behind before it is resynchronised. Default: KUBERNETES_ORCHESTRATOR_DEFAULTS (10 000). */
  watchBufferSize?: number;
}

/**
 * The contract on a Kubernetes cluster: a headless Service and a StatefulSet per
 * service, pods watched for status, Secrets for secrets. Everything it creates
 * lives in one Kubernetes namespace and carries corral's labels.
 */
export class KubernetesOrchestrator implements Orchestrator {
  readonly kubernetesNamespace: string;
  readonly namePrefix: string;
  readonly #client: KubeClient;
  readonly #namespaces = new Map<string, NamespacedKubernetesOrchestrator>();
  readonly #config: KubernetesOrchestratorConfig;
  readonly #closed = new AbortController();
  #secrets: KubernetesSecretsController | undefined;

  constructor(config: KubernetesOrchestratorConfig = {}) {
    this.namePrefix = validateNamePrefix(config.namePrefix ?? "");
    for (const key of [
      "rolloutTimeoutMs",
      "stopTimeoutMs",
      "pollIntervalMs",
      "watchBufferSize",
      "defaultDiskBytes",
      "nodeFailureTolerationSeconds",
    ] as const) {
      const value = config[key];
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 0))
        throw new ValidationError(key, "must be a non-negative integer", value);
    }
    if (config.imagePullPolicy !== undefined && !["Always", "IfNotPresent", "Never"].includes(config.imagePullPolicy)) {
      throw new ValidationError("imagePullPolicy", 'must be "Always", "IfNotPresent" or "Never"', config.imagePullPolicy);
    }
    const kc = loadKubeConfig(config);
    this.kubernetesNamespace = validateId("kubernetesNamespace", config.kubernetesNamespace ?? contextNamespace(kc) ?? "default");
    this.#config = config;
    this.#client = new KubeClient(
      kc,
      this.kubernetesNamespace,
      config.fieldManager ?? KUBERNETES_ORCHESTRATOR_DEFAULTS.fieldManager,
      config.retry,
    );
  }

  /** Loads the Kubernetes client (kept out of corral's import so the process backend starts fast), then connects. */
  static async create(config: KubernetesOrchestratorConfig = {}): Promise<KubernetesOrchestrator> {
    await loadClientNode();
    return new KubernetesOrchestrator(config);
  }

  namespace(name: string): NamespacedOrchestrator {
    if (this.#closed.signal.aborted) throw new OrchestratorClosedError();
    validateId("namespace", name);
    let ns = this.#namespaces.get(name);
    if (!ns) {
      const c = this.#config;
      ns = new NamespacedKubernetesOrchestrator(
        {
          client: this.#client,
          render: renderOptionsOf(c, this.kubernetesNamespace, this.namePrefix),
          namePrefix: this.namePrefix,
          rolloutTimeoutMs: c.rolloutTimeoutMs ?? KUBERNETES_ORCHESTRATOR_DEFAULTS.rolloutTimeoutMs,
          stopTimeoutMs: c.stopTimeoutMs ?? KUBERNETES_ORCHESTRATOR_DEFAULTS.stopTimeoutMs,
          pollIntervalMs: c.pollIntervalMs ?? KUBERNETES_ORCHESTRATOR_DEFAULTS.pollIntervalMs,
          watchBufferSize: c.watchBufferSize ?? KUBERNETES_ORCHESTRATOR_DEFAULTS.watchBufferSize,
          isClosed: () => this.#closed.signal.aborted,
          signal: this.#closed.signal,
        },
        name,
        c.schedulingConfig ?? {},
      );
      this.#namespaces.set(name, ns);
    }
    return ns;
  }

  secretsController(): SecretsController {
    this.#secrets ??= new KubernetesSecretsController(this.#client, this.namePrefix);
    return this.#secrets;
  }

  /** Ends every watch. Services keep running on the cluster; a later orchestrator finds them with listServices. */
  async close(): Promise<void> {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    for (const ns of this.#namespaces.values()) ns.close();
  }
}

function renderOptionsOf(c: KubernetesOrchestratorConfig, kubernetesNamespace: string, namePrefix: string): RenderOptions {
  const render: RenderOptions = { kubernetesNamespace, namePrefix };
  for (const key of [
    "imagePullPolicy",
    "serviceAccount",
    "ephemeralVolumeStorageClass",
    "defaultDiskBytes",
    "clusterDomain",
    "nodeFailureTolerationSeconds",
  ] as const) {
    if (c[key] !== undefined) (render as Record<string, unknown>)[key] = c[key];
  }
  return render;
}
