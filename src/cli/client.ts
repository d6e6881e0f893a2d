// Talks to a daemon over its Unix socket (or TCP with a token): JSON calls,
// NDJSON streams (logs) and Server-Sent Events (status changes). Every answer
// is parsed with the API's schemas (server/wire.ts), so a daemon of another
// version fails with a message naming the field, not later with a TypeError.
import { request, type IncomingMessage } from "node:http";
import type { z } from "zod";
import { DAEMON_DEFAULTS } from "../contract/defaults.js";
import type { ServiceEvent } from "../contract/types.js";
import { errorBody, serviceEventBody } from "../server/wire.js";

export class DaemonUnavailableError extends Error {
  override name = "DaemonUnavailableError";
}

/**
 * A daemon that accepted the connection but did not answer in time: stopped
 * (SIGSTOP), stuck, or swamped. Not "no daemon": one is there.
 */
export class DaemonNotAnsweringError extends Error {
  override name = "DaemonNotAnsweringError";
}

/** The daemon closed the connection in the middle of an answer or a stream: it stopped, or was killed. */
export class DaemonGoneError extends DaemonUnavailableError {
  override name = "DaemonGoneError";
}

const CLOSED = new Set(["ECONNRESET", "EPIPE", "ERR_STREAM_PREMATURE_CLOSE"]);

/** A connection the daemon dropped, as one line for the user (not a stack trace). */
function goneOr(error: unknown, where: string): unknown {
  const code = error instanceof Error && "code" in error ? error.code : undefined;
  if (typeof code === "string" && CLOSED.has(code))
    return new DaemonGoneError(`the daemon at ${where} went away (it stopped or was killed)`);
  if (error instanceof Error && error.message === "aborted")
    return new DaemonGoneError(`the daemon at ${where} went away (it stopped or was killed)`);
  return error;
}

/** An error the daemon answered with: `{ error, field?, rule?, code? }` and its HTTP status. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly rule?: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** An answer that is not what the API promises (another daemon version, a proxy in between). */
export class UnexpectedAnswerError extends Error {
  override name = "UnexpectedAnswerError";
}

export interface ClientTarget {
  socketPath?: string;
  host?: string;
  port?: number;
  token?: string;
  /** How long a quick call (a GET, `alive`, `postWithin`) may wait for its whole answer. Default DAEMON_DEFAULTS.requestTimeoutMs. */
  timeoutMs?: number;
}

function parseAnswer<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new UnexpectedAnswerError(
    `unexpected answer to ${what}: ${issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid"}`,
  );
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UnexpectedAnswerError(`unexpected answer to ${what}: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8");
}

function apiError(status: number, text: string, json: boolean): ApiError {
  const parsed = json ? errorBody.safeParse(parseJson(text, "an error")) : undefined;
  if (!parsed?.success) return new ApiError(status, text || `HTTP ${status}`);
  const { error, field, rule, code } = parsed.data;
  return new ApiError(status, error, field, rule, code);
}

export class DaemonClient {
  constructor(private readonly target: ClientTarget) {}

  /** The socket or host:port, for messages. */
  get where(): string {
    return this.target.socketPath ?? `${this.target.host}:${this.target.port}`;
  }

  private open(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          ...(this.target.socketPath ? { socketPath: this.target.socketPath } : { host: this.target.host, port: this.target.port }),
          path,
          method,
          headers: {
            ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
            ...(this.target.token ? { authorization: `Bearer ${this.target.token}` } : {}),
          },
          ...(signal ? { signal } : {}),
        },
        resolve,
      );
      req.on("error", (error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT" || error.code === "ECONNREFUSED")
          reject(new DaemonUnavailableError(`no corral daemon answers at ${this.where}`));
        else reject(goneOr(error, this.where));
      });
      req.end(payload);
    });
  }

  /**
   * The answer's text; throws ApiError for an error status. Without a signal of
   * the caller's the call is bounded (DaemonNotAnsweringError): only calls that
   * may rightly take long (an apply, a rolling restart) pass their own.
   */
  private async answer(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<{ text: string; json: boolean }> {
    const timeoutMs = this.target.timeoutMs ?? DAEMON_DEFAULTS.requestTimeoutMs;
    const timeout = signal === undefined ? AbortSignal.timeout(timeoutMs) : undefined;
    try {
      const res = await this.open(method, path, body, signal ?? timeout);
      const text = await readAll(res).catch((error: unknown) => {
        throw goneOr(error, this.where);
      });
      const json = (res.headers["content-type"] ?? "").includes("json");
      if ((res.statusCode ?? 500) >= 400) throw apiError(res.statusCode ?? 500, text, json);
      return { text, json };
    } catch (error) {
      if (!timeout?.aborted) throw error;
      throw new DaemonNotAnsweringError(
        `the corral daemon at ${this.where} accepted the connection but did not answer ${method} ${path} within ${timeoutMs / 1000} s (is it stopped or stuck?)`,
      );
    }
  }

  /** Calls that may wait for services (an apply, a restart, a scale) are not bounded by the client: the daemon bounds them. */
  private unbounded(): AbortSignal {
    return new AbortController().signal;
  }

  /** A JSON call whose answer is parsed with `schema`; without one the answer is only checked to be a success. */
  async call(method: string, path: string, body?: unknown): Promise<void>;
  async call<S extends z.ZodType>(method: string, path: string, body: unknown, schema: S, signal?: AbortSignal): Promise<z.output<S>>;
  async call<S extends z.ZodType>(
    method: string,
    path: string,
    body?: unknown,
    schema?: S,
    signal?: AbortSignal,
  ): Promise<z.output<S> | void> {
    const { text } = await this.answer(method, path, body, signal ?? (method === "GET" ? undefined : this.unbounded()));
    if (schema) return parseAnswer(schema, parseJson(text, `${method} ${path}`), `${method} ${path}`);
  }

  get<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
    return this.call("GET", path, undefined, schema);
  }

  post(path: string, body?: unknown): Promise<void>;
  post<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.output<S>>;
  post<S extends z.ZodType>(path: string, body: unknown = {}, schema?: S): Promise<z.output<S> | void> {
    return schema ? this.call("POST", path, body, schema) : this.call("POST", path, body);
  }

  /** A POST bounded like a GET (DaemonNotAnsweringError): for calls the daemon answers at once, e.g. /v1/shutdown. */
  async postWithin(path: string, body: unknown = {}): Promise<void> {
    await this.answer("POST", path, body);
  }

  /** A text answer, e.g. /metrics. */
  async text(path: string): Promise<string> {
    return (await this.answer("GET", path)).text;
  }

  async alive(): Promise<boolean> {
    try {
      await this.answer("GET", "/healthz");
      return true;
    } catch (error) {
      // One that is there but frozen is not "no daemon": the caller must not start another beside it.
      if (error instanceof DaemonNotAnsweringError) throw error;
      // Whatever else the reason, there is no daemon to talk to: the caller says so (or starts one).
      return false;
    }
  }

  /** One object per NDJSON line, parsed with `schema`, until the stream ends or `signal` aborts. */
  async *lines<S extends z.ZodType>(path: string, schema: S, signal?: AbortSignal): AsyncGenerator<z.output<S>> {
    const res = await this.open("GET", path, undefined, signal);
    if ((res.statusCode ?? 500) >= 400)
      throw apiError(res.statusCode ?? 500, await readAll(res), (res.headers["content-type"] ?? "").includes("json"));
    let partial = "";
    try {
      for await (const chunk of res) {
        const parts = (partial + String(chunk)).split("\n");
        partial = parts.pop() ?? "";
        for (const part of parts) {
          if (!part) continue;
          const value = parseJson(part, path);
          // The daemon ends a stream it cannot finish with one `{ error }` line (its status was sent already).
          const failure = errorBody.safeParse(value);
          if (failure.success) throw new ApiError(500, failure.data.error);
          yield parseAnswer(schema, value, path);
        }
      }
    } catch (error) {
      if (error instanceof ApiError) throw error;
      if (!signal?.aborted) throw goneOr(error, this.where);
    }
  }

  /** Status events: the snapshot (then `{ snapshotEnd: true }`), then every change. */
  async *events(signal?: AbortSignal): AsyncGenerator<ServiceEvent | { snapshotEnd: true }> {
    const res = await this.open("GET", "/v1/events", undefined, signal);
    let buffer = "";
    try {
      for await (const chunk of res) {
        buffer += String(chunk);
        let end: number;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type === "snapshot-end") yield { snapshotEnd: true };
          else if (type === "service" && data) yield parseAnswer(serviceEventBody, parseJson(data, "/v1/events"), "/v1/events");
        }
      }
    } catch (error) {
      if (!signal?.aborted) throw goneOr(error, this.where);
    }
  }
}
