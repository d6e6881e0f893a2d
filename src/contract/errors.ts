/**
 * Bad input: names the offending field and the rule it broke, so a caller can
 * fix the call without reading corral's source.
 */
export class ValidationError extends Error {
  override name = "ValidationError";
  constructor(
    readonly field: string,
    readonly rule: string,
    readonly value?: unknown,
  ) {
    super(`${field}: ${rule}${value === undefined ? "" : ` (got ${describe(value)})`}`);
  }
}

/** An operation on a service that the orchestrator does not know. */
export class UnknownServiceError extends Error {
  override name = "UnknownServiceError";
  constructor(readonly serviceId: string) {
    super(`unknown service ${JSON.stringify(serviceId)}`);
  }
}

/** The orchestrator was closed; no further calls are accepted. */
export class OrchestratorClosedError extends Error {
  override name = "OrchestratorClosedError";
  constructor() {
    super("orchestrator is closed");
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return typeof value;
}
