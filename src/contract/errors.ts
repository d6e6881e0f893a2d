// Coded errors, as undici's are: every error corral throws on purpose is a
// CorralError with a stable `code` that callers (and the HTTP API's single
// error mapping) switch on, instead of matching messages.

export type CorralErrorCode =
  | "CORRAL_ERR_VALIDATION"
  | "CORRAL_ERR_NOT_FOUND"
  | "CORRAL_ERR_UNKNOWN_SERVICE"
  | "CORRAL_ERR_ROLLOUT"
  | "CORRAL_ERR_CLOSED"
  | "CORRAL_ERR_CONFLICT"
  | "CORRAL_ERR_RESOURCE"
  | "CORRAL_ERR_TIMEOUT"
  | "CORRAL_ERR_INTERRUPTED";

/** The base of every error corral throws on purpose. */
export class CorralError extends Error {
  override name = "CorralError";
  constructor(
    readonly code: CorralErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Bad input: names the offending field and the rule it broke, so a caller can
 * fix the call without reading corral's source. Nothing was written or started.
 */
export class ValidationError extends CorralError {
  override name = "ValidationError";
  constructor(
    readonly field: string,
    readonly rule: string,
    readonly value?: unknown,
  ) {
    super("CORRAL_ERR_VALIDATION", `${field}: ${rule}${value === undefined ? "" : ` (got ${describe(value)})`}`);
  }
}

/** Something named by id that does not exist (a secret, a process index, ...). */
export class NotFoundError extends CorralError {
  override name = "NotFoundError";
  constructor(
    /** What kind of thing was looked for, e.g. "secret". */
    readonly kind: string,
    readonly id: string,
    message = `unknown ${kind} ${JSON.stringify(id)}`,
    code: CorralErrorCode = "CORRAL_ERR_NOT_FOUND",
  ) {
    super(code, message);
  }
}

/** An operation on a service that the orchestrator does not know. */
export class UnknownServiceError extends NotFoundError {
  override name = "UnknownServiceError";
  constructor(readonly serviceId: string) {
    super("service", serviceId, `unknown service ${JSON.stringify(serviceId)}`, "CORRAL_ERR_UNKNOWN_SERVICE");
  }
}

/**
 * A rolling change stopped: the replacement of `processIndex` did not come
 * online (it failed, or was not ready in time). The processes below it still
 * run the previous config; nothing above it was left half-done.
 */
export class RolloutError extends CorralError {
  override name = "RolloutError";
  constructor(
    readonly serviceId: string,
    readonly processIndex: number,
    /** The replacement's offline reason ("crashed", "spawn-failed", ...), or "timeout" when it was still coming up. */
    readonly reason: string,
    readonly detail?: string,
  ) {
    super(
      "CORRAL_ERR_ROLLOUT",
      `rolling change of service "${serviceId}" stopped at process ${processIndex}: not online (${reason}${detail ? `: ${detail}` : ""})` +
        (processIndex > 0 ? `; processes 0..${processIndex - 1} still run the previous config` : ""),
    );
  }
}

/** A read of a secret that was never ensured (or was deleted), on any backend. */
export class SecretNotFoundError extends NotFoundError {
  override name = "SecretNotFoundError";
  constructor(readonly secretId: string) {
    super("secret", secretId);
  }
}

/** The operation would break something that depends on its target, e.g. deleting a secret services still read. */
export class ConflictError extends CorralError {
  override name = "ConflictError";
  constructor(message: string) {
    super("CORRAL_ERR_CONFLICT", message);
  }
}

/** The orchestrator was closed; no further calls are accepted. */
export class OrchestratorClosedError extends CorralError {
  override name = "OrchestratorClosedError";
  constructor() {
    super("CORRAL_ERR_CLOSED", "orchestrator is closed");
  }
}

/**
 * An apply stopped before it finished: the daemon is stopping every service
 * (`corral down` pre-empts an apply) or whoever asked for it left. What it had
 * started keeps running until the shutdown (or a later apply) says otherwise.
 */
export class ApplyInterruptedError extends CorralError {
  override name = "ApplyInterruptedError";
  constructor(readonly why: string) {
    super("CORRAL_ERR_INTERRUPTED", `the apply was interrupted: ${why}`);
  }
}

/** The machine refused a resource (disk full, out of file descriptors, ...): the operation failed, the orchestrator did not. */
export class ResourceError extends CorralError {
  override name = "ResourceError";
  constructor(
    readonly operation: string,
    /** The errno code, e.g. "ENOSPC", "EMFILE". */
    readonly errno: string,
    options?: ErrorOptions,
  ) {
    super("CORRAL_ERR_RESOURCE", `${operation}: ${errno}`, options);
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return typeof value;
}
