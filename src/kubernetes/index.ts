export { KubernetesOrchestrator, type KubernetesOrchestratorConfig } from "./orchestrator.js";
export { renderManifests, type ImagePullPolicy, type RenderOptions, type RenderedManifests } from "./manifests.js";
export { KubernetesApiError, KubernetesConnectionError, KubernetesTimeoutError, type ApiCall } from "./errors.js";
// One class for every backend (contract/errors.ts), under the name the Kubernetes backend has always exported.
export { SecretNotFoundError as KubernetesSecretNotFoundError } from "../contract/errors.js";
export { KubernetesSecretsController } from "./secrets.js";
export { KubernetesService, NamespacedKubernetesOrchestrator } from "./namespaced.js";
export type { RetryOptions } from "./retry.js";
