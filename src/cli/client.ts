// Talks to a daemon over its Unix socket (or TCP with a token): JSON calls,
// NDJSON streams (logs) and Server-Sent Events (status changes).
import { request, type IncomingMessage } from "node:http";
import type { ServiceEvent } from "../contract/types.js";

export class DaemonUnavailableError extends Error {
  override name = "DaemonUnavailableError";
}

/** An error the daemon answered with: `{ error, field?, rule? }` and its HTTP status. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface ClientTarget {
  socketPath?: string;
  host?: string;
  port?: number;
  token?: string;
}

export class DaemonClient {
  constructor(private readonly target: ClientTarget) {}

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
          reject(
            new DaemonUnavailableError(
              `no corral daemon answers at ${this.target.socketPath ?? `${this.target.host}:${this.target.port}`}`,
            ),
          );
        else reject(error);
      });
      req.end(payload);
    });
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.open(method, path, body);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const parsed: unknown = text && (res.headers["content-type"] ?? "").includes("json") ? JSON.parse(text) : text;
    if ((res.statusCode ?? 500) >= 400) {
      const e = parsed as { error?: string; field?: string };
      throw new ApiError(res.statusCode ?? 500, e?.error ?? String(parsed), e?.field);
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>("POST", path, body);
  }

  async alive(): Promise<boolean> {
    try {
      await this.get("/healthz");
      return true;
    } catch {
      return false;
    }
  }

  /** One parsed object per NDJSON line, until the stream ends or `signal` aborts. */
  async *lines<T>(path: string, signal?: AbortSignal): AsyncGenerator<T> {
    const res = await this.open("GET", path, undefined, signal);
    if ((res.statusCode ?? 500) >= 400) {
      let text = "";
      for await (const chunk of res) text += chunk;
      throw new ApiError(res.statusCode ?? 500, (JSON.parse(text) as { error: string }).error);
    }
    let partial = "";
    try {
      for await (const chunk of res) {
        const parts = (partial + (chunk as Buffer).toString("utf8")).split("\n");
        partial = parts.pop() ?? "";
        for (const part of parts) if (part) yield JSON.parse(part) as T;
      }
    } catch (error) {
      if (!signal?.aborted) throw error;
    }
  }

  /** Status events: the snapshot (then `{ snapshotEnd: true }`), then every change. */
  async *events(signal?: AbortSignal): AsyncGenerator<ServiceEvent | { snapshotEnd: true }> {
    const res = await this.open("GET", "/v1/events", undefined, signal);
    let buffer = "";
    try {
      for await (const chunk of res) {
        buffer += (chunk as Buffer).toString("utf8");
        let end: number;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type === "snapshot-end") yield { snapshotEnd: true };
          else if (type === "service" && data) {
            const event = JSON.parse(data) as ServiceEvent & { time: string; nextStartAt?: string };
            yield {
              ...event,
              time: new Date(event.time),
              ...(event.nextStartAt ? { nextStartAt: new Date(event.nextStartAt) } : {}),
            };
          }
        }
      }
    } catch (error) {
      if (!signal?.aborted) throw error;
    }
  }
}
