// The desired state as a file or an HTTP client states it: plain JSON, so the
// daemon can persist it and a later daemon re-apply it. The types are inferred
// from the wire schemas in desired-state.ts; `toServiceConfig` (translate.ts)
// turns a ServiceSpec into the contract's ServiceConfig.
export type { Backend, DependencyCondition, DesiredState, KubernetesTarget, ServiceSpec } from "./desired-state.js";
