/** What a failed call was trying to do, so its error can say so. */
export interface ApiCall {
  /** The Kubernetes verb RBAC checks: get, list, watch, create, patch, delete. */
  verb: string;
  /** The resource as RBAC names it: "pods", "statefulsets.apps", "pods/log", "pods.metrics.k8s.io". */
  resource: string;
  namespace: string;
  name?: string;
}

/** A call to the Kubernetes API server that failed with an HTTP status. */
export class KubernetesApiError extends Error {
  override name = "KubernetesApiError";
  constructor(
    readonly status: number,
    readonly call: ApiCall,
    readonly serverMessage: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(describe(status, call, serverMessage), options);
  }
}

/** The API server could not be reached (connection refused, reset, DNS failure...), even after retries. */
export class KubernetesConnectionError extends Error {
  override name = "KubernetesConnectionError";
  constructor(
    readonly call: ApiCall,
    cause: unknown,
  ) {
    super(
      `cannot reach the Kubernetes API server to ${call.verb} ${call.resource}${call.name ? ` "${call.name}"` : ""} in namespace "${call.namespace}": ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** A rolling replacement or a stop that did not finish in time. */
export class KubernetesTimeoutError extends Error {
  override name = "KubernetesTimeoutError";
}

function describe(status: number, call: ApiCall, serverMessage: string | undefined): string {
  const target = `${call.resource}${call.name ? ` "${call.name}"` : ""} in Kubernetes namespace "${call.namespace}"`;
  const detail = serverMessage ? `: ${serverMessage}` : "";
  if (status === 403) {
    return (
      `forbidden: cannot ${call.verb} ${target}. Kubernetes RBAC must allow verb "${call.verb}" on resource "${call.resource}" ` +
      `in namespace "${call.namespace}" for the identity corral uses (a Role/RoleBinding for its user or service account)${detail}`
    );
  }
  if (status === 401) return `unauthorized: the API server rejected corral's credentials to ${call.verb} ${target}${detail}`;
  return `Kubernetes API error ${status} on ${call.verb} ${target}${detail}`;
}

/** The HTTP status of an error thrown by @kubernetes/client-node (ApiException, watch errors), if any. */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof KubernetesApiError) return error.status;
  if (typeof error !== "object" || error === null) return undefined;
  if ("code" in error && typeof error.code === "number") return error.code;
  if ("statusCode" in error && typeof error.statusCode === "number") return error.statusCode;
  return undefined;
}

/** The `message` of the Status object in an error's body (what the API server answered), if it sent one. */
export function serverMessageOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("body" in error)) return undefined;
  let body: unknown = error.body;
  if (typeof body === "string") {
    const text: string = body;
    try {
      body = JSON.parse(text);
    } catch {
      // Not a Status object: the text itself is the server's message.
      return text.length > 0 ? text.slice(0, 500) : undefined;
    }
  }
  if (typeof body === "object" && body !== null && "message" in body && typeof body.message === "string") return body.message;
  return undefined;
}

const TRANSIENT_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
]);

/** Worth another try: the server was busy or unreachable, not refusing the request. */
export function isTransient(error: unknown): boolean {
  if (error instanceof KubernetesConnectionError) return true;
  const status = statusOf(error);
  if (status !== undefined) return TRANSIENT_STATUSES.has(status);
  if (typeof error !== "object" || error === null) return false;
  const e = error as { code?: unknown; errno?: unknown; type?: unknown; name?: unknown };
  if (e.name === "AbortError") return false;
  if (typeof e.code === "string" && TRANSIENT_CODES.has(e.code)) return true;
  if (typeof e.errno === "string" && TRANSIENT_CODES.has(e.errno)) return true;
  // node-fetch's FetchError of type "system" is a failed connection.
  return e.type === "system" || e.name === "FetchError";
}

/** Wraps a client error as a KubernetesApiError (HTTP status) or KubernetesConnectionError (no answer), naming the call. */
export function toApiError(error: unknown, call: ApiCall): unknown {
  if (error instanceof KubernetesApiError || error instanceof KubernetesConnectionError) return error;
  const status = statusOf(error);
  if (status === undefined) return isTransient(error) ? new KubernetesConnectionError(call, error) : error;
  return new KubernetesApiError(status, call, serverMessageOf(error), { cause: error });
}
