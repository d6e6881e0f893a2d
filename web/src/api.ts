// Same-origin calls to the daemon's API. The session cookie authenticates;
// every call carries the page's CSRF value (the daemon refuses state changes without it).
const csrf = document.querySelector<HTMLMetaElement>('meta[name="corral-csrf"]')?.content ?? "";
/**
 * Signed in with the read-only token: the page leaves out what the daemon
 * would refuse (it refuses all the same: the scope is signed into the cookie).
 */
export const readOnly = document.querySelector<HTMLMetaElement>('meta[name="corral-scope"]')?.content === "read";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called with every 401: the session expired or the daemon has a new token. */
let onSignedOut: () => void = () => {};
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export async function request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { "x-corral-csrf": csrf, accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    ...(signal ? { signal } : {}),
  });
  if (res.status === 401) onSignedOut();
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const parsed = (await res.json()) as { error?: string };
      if (parsed.error) message = parsed.error;
    } catch {}
    throw new ApiError(res.status, message);
  }
  return res;
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, body);
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string) => call<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}) => call<T>("POST", path, body);

/** One parsed object per NDJSON line until the stream ends or `signal` aborts. */
export async function* ndjson<T>(path: string, signal: AbortSignal): AsyncGenerator<T[]> {
  const res = await request("GET", path, undefined, signal);
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let partial = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const parts = (partial + value).split("\n");
      partial = parts.pop() ?? "";
      const batch = parts.filter(Boolean).map((p) => JSON.parse(p) as T);
      if (batch.length > 0) yield batch;
    }
  } finally {
    reader.releaseLock();
  }
}

export function serviceUrl(id: string, rest = ""): string {
  return `/v1/services/${encodeURIComponent(id)}${rest}`;
}
