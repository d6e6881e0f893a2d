export { ProcessOrchestrator, type ProcessOrchestratorConfig } from "./orchestrator.js";
export { NamespacedProcessOrchestrator, ProcessService } from "./namespace.js";
export { socketPath } from "./sockets.js";
