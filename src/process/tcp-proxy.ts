import { connect, createServer, isIP, type AddressInfo, type Server, type Socket } from "node:net";
import { PROCESS_ORCHESTRATOR_DEFAULTS } from "../contract/defaults.js";
import { ValidationError } from "../contract/errors.js";
import { isErrno } from "../util/errno.js";
import { relay } from "./relay.js";

export interface TcpProxyOptions {
  /** Address to listen on, e.g. "127.0.0.1" or "::1". A non-loopback address is allowed but warned about. */
  host: string;
  /** Port to use when it is free, so the address stays stable across restarts; otherwise an ephemeral port. */
  portHint?: number;
  /** The Unix socket every accepted connection is forwarded to. */
  socketPath: string;
  /** Names the proxy in warnings and errors, e.g. "<namespace>-<service>-<port>-<i>". */
  name?: string;
  /** Called with a message when the proxy listens somewhere other than loopback. */
  onWarning?: (message: string) => void;
  /** Called for each forwarded connection that ends in an error (backend not listening, reset, ...). */
  onConnectionError?: (error: Error) => void;
  /**
   * How long a client whose backend could not be reached may keep its half of the
   * connection open after the proxy has closed its own. Default 10 s.
   */
  lingerMs?: number;
  /**
   * A backend whose accept queue is full refuses a Unix-socket connect at once
   * (EAGAIN) where a TCP client would just wait; the proxy retries for up to this
   * long before giving up on the connection. Default 5 s.
   */
  backendConnectTimeoutMs?: number;
  /** Called each time a connect to a busy backend (EAGAIN) is retried; `attempt` counts from 1. */
  onConnectRetry?: (error: Error, attempt: number) => void;
}

interface Forward {
  client: Socket;
  backend: Socket | undefined;
  retry: NodeJS.Timeout | undefined;
}

/**
 * A TCP listener that forwards each connection to a Unix socket, for clients that
 * cannot speak Unix sockets (Prometheus, browsers). Bytes flow both ways with
 * backpressure; a FIN from either side ends only the other side's write half;
 * a backend that is not listening costs the client a clean close, not the proxy.
 */
export class TcpProxy {
  readonly name: string;
  readonly socketPath: string;
  /** The address the listener is bound to (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  readonly #server: Server;
  readonly #forwards = new Set<Forward>();
  readonly #onConnectionError: ((error: Error) => void) | undefined;
  readonly #onConnectRetry: ((error: Error, attempt: number) => void) | undefined;
  readonly #lingerMs: number;
  readonly #backendConnectTimeoutMs: number;
  #closing: Promise<void> | undefined;

  private constructor(server: Server, options: TcpProxyOptions, bound: AddressInfo) {
    this.#server = server;
    this.name = options.name ?? "tcp-proxy";
    this.socketPath = options.socketPath;
    this.host = bound.address;
    this.port = bound.port;
    this.#onConnectionError = options.onConnectionError;
    this.#onConnectRetry = options.onConnectRetry;
    this.#lingerMs = options.lingerMs ?? PROCESS_ORCHESTRATOR_DEFAULTS.tcpProxy.lingerMs;
    this.#backendConnectTimeoutMs = options.backendConnectTimeoutMs ?? PROCESS_ORCHESTRATOR_DEFAULTS.tcpProxy.backendConnectTimeoutMs;
    server.on("connection", (client) => this.#forward(client));
    // Errors after listening (EMFILE on accept, ...) must not crash the orchestrator; the listener keeps going.
    server.on("error", (error) => this.#onConnectionError?.(error));
  }

  static async listen(options: TcpProxyOptions): Promise<TcpProxy> {
    const { host, portHint, socketPath } = options;
    if (typeof host !== "string" || host === "") throw new ValidationError("host", "must be a non-empty address", host);
    if (typeof socketPath !== "string" || socketPath === "")
      throw new ValidationError("socketPath", "must be a non-empty path", socketPath);
    if (portHint !== undefined && !(Number.isInteger(portHint) && portHint >= 0 && portHint <= 65535)) {
      throw new ValidationError("portHint", "must be an integer port number from 0 to 65535", portHint);
    }
    const server = await listenPreferring(host, portHint);
    const bound = server.address() as AddressInfo;
    const proxy = new TcpProxy(server, options, bound);
    if (!isLoopbackAddress(bound.address)) {
      options.onWarning?.(
        `${proxy.name}: listening on non-loopback address ${proxy.address}; anyone who can reach it can talk to the process behind ${socketPath}`,
      );
    }
    return proxy;
  }

  /** "host:port", with IPv6 hosts in brackets, as Prometheus targets are written. */
  get address(): string {
    return formatAddress(this.host, this.port);
  }

  /** Connections currently being forwarded (or waiting for their backend). */
  get connections(): number {
    return this.#forwards.size;
  }

  /** Stops listening and destroys every open connection, both sides. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const forward of this.#forwards) {
        clearTimeout(forward.retry);
        forward.client.destroy();
        forward.backend?.destroy();
      }
      this.#forwards.clear();
    });
    return this.#closing;
  }

  #forward(client: Socket): void {
    if (this.#closing !== undefined) {
      client.destroy();
      return;
    }
    const forward: Forward = { client, backend: undefined, retry: undefined };
    this.#forwards.add(forward);
    // A fully closed client means both directions are done (or were torn down by an error).
    client.once("close", () => {
      clearTimeout(forward.retry);
      this.#forwards.delete(forward);
    });
    // Errors are reported through the pipelines or the connect failure; this listener
    // only keeps an error after both pipelines finished from being fatal.
    client.on("error", () => {});
    this.#connectBackend(forward, 0, performance.now());
  }

  #connectBackend(forward: Forward, attempt: number, startedAt: number): void {
    const { client } = forward;
    // The client stays paused (pauseOnConnect) until its backend answers, so nothing
    // is read that could not be forwarded.
    const backend = connect({ path: this.socketPath, allowHalfOpen: true });
    forward.backend = backend;
    backend.on("error", () => {});
    const onConnectFailure = (error: NodeJS.ErrnoException): void => {
      if (client.destroyed || this.#closing !== undefined) return;
      const elapsed = performance.now() - startedAt;
      if (error.code === "EAGAIN" && elapsed < this.#backendConnectTimeoutMs) {
        this.#onConnectRetry?.(error, attempt + 1);
        const delay = Math.min(2 ** attempt, 100, this.#backendConnectTimeoutMs - elapsed);
        forward.retry = setTimeout(() => this.#connectBackend(forward, attempt + 1, startedAt), delay);
        return;
      }
      this.#report(error);
      closeClientCleanly(client, this.#lingerMs);
    };
    backend.once("error", onConnectFailure);
    backend.once("connect", () => {
      backend.off("error", onConnectFailure);
      if (client.destroyed) {
        backend.destroy();
        return;
      }
      relay(client, backend, (error) => {
        // A close caused by close() is not worth reporting.
        if (this.#closing === undefined) this.#report(error);
      });
    });
  }

  #report(error: Error): void {
    if (this.#onConnectionError === undefined) return;
    const wrapped = new Error(`${this.name}: forwarding to ${this.socketPath}: ${error.message}`, { cause: error });
    this.#onConnectionError(wrapped);
  }
}

/**
 * Ends the proxy's half with a FIN and reads (and drops) whatever the client still
 * sends, so unread data in the kernel buffer does not turn the close into a reset.
 */
export function closeClientCleanly(client: Socket, lingerMs: number): void {
  if (client.destroyed) return;
  client.setTimeout(lingerMs, () => client.destroy());
  client.resume();
  client.end();
}

/** Listens on `port` when it is free (and given), else on an ephemeral port. */
export async function listenPreferring(host: string, port: number | undefined): Promise<Server> {
  try {
    return await listenOn({ host, port: port ?? 0 });
  } catch (error) {
    if (port === undefined || port === 0 || !isErrno(error, "EADDRINUSE", "EACCES")) throw error;
    return listenOn({ host, port: 0 });
  }
}

/** A listener as the proxies want it: half-open allowed, each connection paused until its backend answers. */
export function listenOn(where: { host: string; port: number } | { path: string }): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    server.once("error", reject);
    server.listen({ ...where, backlog: 1024 }, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopbackAddress(address: string): boolean {
  if (address === "localhost") return true;
  const version = isIP(address);
  if (version === 4) return address.startsWith("127.");
  if (version === 6) {
    const lower = address.toLowerCase();
    if (lower === "::1" || lower === "0:0:0:0:0:0:0:1") return true;
    // IPv4-mapped loopback, as Node reports it for a dual-stack socket.
    return lower.startsWith("::ffff:") && isIP(lower.slice(7)) === 4 && lower.slice(7).startsWith("127.");
  }
  return false;
}

export function formatAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
