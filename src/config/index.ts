export { ConfigError, type SourcePosition } from "./errors.js";
export { loadConfigFile, parseConfig, type LoadConfigOptions, type ParseConfigOptions } from "./load.js";
export { toServiceConfig, type TranslateContext } from "./translate.js";
export { startOrder, stopOrder } from "./dependencies.js";
export { diffStates, type StateDiff } from "./diff.js";
export { corralConfigJsonSchema } from "./json-schema.js";
export { interpolateArgs } from "./templates.js";
export type { DependencyCondition, DesiredState, ServiceSpec } from "./types.js";
export { desiredStateSchema, parseDesiredState, serviceSpecSchema } from "./desired-state.js";
export {
  OVERRIDE_FILE,
  PROJECT_FILE,
  ProjectFileNotFoundError,
  findProjectFile,
  loadProject,
  projectFiles,
  type LoadProjectOptions,
  type LoadedProject,
  type WhyLine,
} from "./project.js";
