export * from "./contract/index.js";
export * from "./process/index.js";
