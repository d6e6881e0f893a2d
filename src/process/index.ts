export { ProcessOrchestrator, type ProcessOrchestratorConfig } from "./orchestrator.js";
export { NamespacedProcessOrchestrator, ProcessService } from "./namespace.js";
export { socketPath } from "./sockets.js";
export { ProcessSecretsController, CachingSecretsReader, SecretNotFoundError } from "./secrets.js";
export { TcpProxy } from "./tcp-proxy.js";
export type { LauncherKind } from "./launch/types.js";
export type { LogRotation } from "./logs.js";
