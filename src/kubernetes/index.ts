export { KubernetesOrchestrator, type KubernetesOrchestratorConfig } from "./orchestrator.js";
export { renderManifests, type ImagePullPolicy, type RenderOptions, type RenderedManifests } from "./manifests.js";
export {
  KubernetesApiError,
  KubernetesConnectionError,
  KubernetesTimeoutError,
  SecretNotFoundError as KubernetesSecretNotFoundError,
  type ApiCall,
} from "./errors.js";
export { KubernetesSecretsController } from "./secrets.js";
export { KubernetesService, NamespacedKubernetesOrchestrator } from "./namespaced.js";
export type { RetryOptions } from "./retry.js";
