export * from "./defaults.js";
export * from "./errors.js";
export * from "./health.js";
export * from "./lifecycle.js";
export * from "./limits.js";
export * from "./scheduling.js";
export * from "./types.js";
export * from "./validation.js";
