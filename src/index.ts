export * from "./contract/index.js";
export * from "./process/index.js";
export * from "./kubernetes/index.js";
export * from "./config/index.js";
