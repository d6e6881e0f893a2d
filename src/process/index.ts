export { ProcessOrchestrator, type ProcessOrchestratorConfig, type ResolvedProcessConfig } from "./orchestrator.js";
export { NamespacedProcessOrchestrator } from "./namespace.js";
export { ProcessService } from "./service-handle.js";
export { socketPath } from "./run-dir.js";
export { ProcessSecretsController, CachingSecretsReader, SecretNotFoundError } from "./secrets.js";
export { TcpProxy } from "./tcp-proxy.js";
export type { LauncherKind } from "./launch/types.js";
export type { LogRotation } from "./logs.js";
