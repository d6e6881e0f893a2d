// The service address: one listener per service and port (a Unix socket in the
// run directory and, where the port is exposed, a TCP port) that hands each
// new connection to one of the service's ready processes. A process that is
// starting, failing its probe or leaving the set gets no new connection; a
// backend that refuses before any byte was exchanged is retried on another, so
// a client never sees a roll; a process leaving the set is first drained.
import { chmod, mkdir, rm } from "node:fs/promises";
import { connect, type AddressInfo, type Server, type Socket } from "node:net";
import type { BalancePolicy } from "../contract/types.js";
import { closeClientCleanly, formatAddress, isLoopbackAddress, listenOn, listenPreferring } from "./tcp-proxy.js";
import { relay } from "./relay.js";
import type { EdgeStats } from "./edge-stats.js";

export type { EdgeStats };

/** A process that may take connections: its index and the Unix socket it listens on. */
export interface BalancerBackend {
  index: number;
  socketPath: string;
}

export interface ServiceBalancerOptions {
  /** Names the address in warnings and errors: `<namespace>-<service>-<port>`. */
  name: string;
  /** The Unix socket to listen on; `dir`, when given, is made for it (a socketDir port). */
  socket: { path: string; dir?: string };
  /** A TCP listener too (the port is exposed, or the orchestrator's tcpProxy is on). */
  tcp?: { host: string; port?: number };
  /** Read at each pick, so a changed config applies to the next connection. */
  policy(): BalancePolicy;
  /** The processes that are ready now, by index. The balancer leaves out those it drains. */
  backends(): readonly BalancerBackend[];
  /** How long a new connection may wait for a ready process before it is closed. */
  waitForBackendMs: number;
  /** How long a client given up on may keep its half open after ours is closed. */
  lingerMs: number;
  onWarning?(message: string): void;
  onConnectionError?(error: Error): void;
}

interface Connection {
  client: Socket;
  /** The backend being connected to, until the relay owns both sockets. */
  connecting: Socket | undefined;
  /** Backends that refused this connection since it last waited. */
  tried: Set<number>;
  startedAt: number;
  waits: number;
  timer: NodeJS.Timeout | undefined;
}

export class ServiceBalancer {
  readonly name: string;
  /** What clients are given for the Unix side: the socket, or for a socketDir port its directory. */
  readonly socketPath: string;
  /** The running totals; `active` is not one of them: it is what #load holds now. */
  readonly #counts: Omit<EdgeStats, "active"> = { total: 0, bytesIn: 0, bytesOut: 0, retries: 0, backendErrors: 0, drained: 0, failed: 0 };
  readonly #options: ServiceBalancerOptions;
  readonly #unix: Server;
  readonly #tcp: Server | undefined;
  readonly #pending = new Set<Connection>();
  readonly #waiting = new Set<Connection>();
  readonly #relayed = new Set<Socket>();
  /** Backend index → connections relayed to it now. */
  readonly #load = new Map<number, number>();
  /** Backends taken out of rotation to stop, and who waits for their connections to end. */
  readonly #draining = new Map<number, Set<() => void>>();
  #last = -1;
  #closing: Promise<void> | undefined;

  private constructor(options: ServiceBalancerOptions, unix: Server, tcp: Server | undefined) {
    this.#options = options;
    this.name = options.name;
    this.socketPath = options.socket.dir ?? options.socket.path;
    this.#unix = unix;
    this.#tcp = tcp;
    for (const server of [unix, tcp]) {
      server?.on("connection", (client: Socket) => this.#accept(client));
      // Errors after listening (EMFILE on accept, ...) must not crash the orchestrator.
      server?.on("error", (error) => options.onConnectionError?.(error));
    }
  }

  static async listen(options: ServiceBalancerOptions): Promise<ServiceBalancer> {
    const { path, dir } = options.socket;
    if (dir !== undefined) await mkdir(dir, { recursive: true, mode: 0o700 });
    // A socket left by an orchestrator that died would make listen fail with EADDRINUSE.
    await rm(path, { force: true });
    const unix = await listenOn({ path });
    let tcp: Server | undefined;
    try {
      await chmod(path, 0o600);
      tcp = options.tcp ? await listenPreferring(options.tcp.host, options.tcp.port) : undefined;
    } catch (error) {
      unix.close();
      throw error;
    }
    const balancer = new ServiceBalancer(options, unix, tcp);
    const host = balancer.tcpHost;
    if (host !== undefined && !isLoopbackAddress(host)) {
      options.onWarning?.(
        `${balancer.name}: the service address listens on non-loopback address ${balancer.tcpAddress}; anyone who can reach it can talk to the service`,
      );
    }
    return balancer;
  }

  get tcpHost(): string | undefined {
    return this.#tcp ? (this.#tcp.address() as AddressInfo).address : undefined;
  }

  get tcpPort(): number | undefined {
    return this.#tcp ? (this.#tcp.address() as AddressInfo).port : undefined;
  }

  /** "host:port" of the TCP listener, when there is one. */
  get tcpAddress(): string | undefined {
    const host = this.tcpHost;
    return host === undefined ? undefined : formatAddress(host, this.tcpPort!);
  }

  /** Whether this balancer already listens as `options` would have it (else it is replaced). */
  matches(options: Pick<ServiceBalancerOptions, "socket" | "tcp">): boolean {
    if (options.socket.path !== this.#options.socket.path || options.socket.dir !== this.#options.socket.dir) return false;
    const want = options.tcp;
    const have = this.#options.tcp;
    if (want === undefined || have === undefined) return want === have;
    return want.host === have.host && (want.port === undefined || want.port === have.port || want.port === this.tcpPort);
  }

  /** A process became ready or stopped being so: connections waiting for one are dispatched again. */
  wake(): void {
    for (const connection of [...this.#waiting]) {
      clearTimeout(connection.timer);
      this.#waiting.delete(connection);
      this.#dispatch(connection);
    }
  }

  /**
   * Takes process `index` out of rotation and resolves once the connections
   * relayed to it have ended, or after `ms`; returns how many were open. It
   * stays out until restore(index).
   */
  async drain(index: number, ms: number): Promise<number> {
    const waiters = this.#draining.get(index) ?? new Set<() => void>();
    this.#draining.set(index, waiters);
    const open = this.#load.get(index) ?? 0;
    this.#counts.drained += open;
    if (open === 0 || ms <= 0) return open;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
    });
    return open;
  }

  /** Puts process `index` back into rotation (its replacement is taken once it is ready). */
  restore(index: number): void {
    const waiters = this.#draining.get(index);
    this.#draining.delete(index);
    for (const done of waiters ?? []) done();
    this.wake();
  }

  /** What the address has done since it started listening, and the connections it relays now. */
  get stats(): EdgeStats {
    let active = 0;
    for (const open of this.#load.values()) active += open;
    return { active, ...this.#counts };
  }

  /** Connections relayed to process `index` now. */
  load(index: number): number {
    return this.#load.get(index) ?? 0;
  }

  /** Stops listening, destroys every connection and removes the socket. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = [this.#unix, this.#tcp].map(
        (server) => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
      );
      for (const connection of this.#pending) {
        clearTimeout(connection.timer);
        connection.client.destroy();
        connection.connecting?.destroy();
      }
      for (const socket of this.#relayed) socket.destroy();
      for (const waiters of this.#draining.values()) for (const done of waiters) done();
      await Promise.all(closed);
      const { path, dir } = this.#options.socket;
      await rm(dir ?? path, { recursive: true, force: true });
    })();
    return this.#closing;
  }

  #accept(client: Socket): void {
    if (this.#closing !== undefined) {
      client.destroy();
      return;
    }
    this.#counts.total++;
    const connection: Connection = {
      client,
      connecting: undefined,
      tried: new Set(),
      startedAt: performance.now(),
      waits: 0,
      timer: undefined,
    };
    this.#pending.add(connection);
    // Errors are counted where they matter (connect, relay); this keeps a late one from being fatal.
    client.on("error", () => {});
    client.once("close", () => this.#forget(connection));
    this.#dispatch(connection);
  }

  #forget(connection: Connection): void {
    clearTimeout(connection.timer);
    this.#waiting.delete(connection);
    if (this.#pending.delete(connection)) connection.connecting?.destroy();
  }

  #ready(): BalancerBackend[] {
    return this.#options.backends().filter((backend) => !this.#draining.has(backend.index));
  }

  #dispatch(connection: Connection): void {
    if (connection.client.destroyed || this.#closing !== undefined) return;
    const ready = this.#ready();
    const untried = ready.filter((backend) => !connection.tried.has(backend.index));
    if (untried.length > 0) {
      this.#connect(connection, this.#pick(untried));
      return;
    }
    // No process is ready, or every ready one refused: wait for a change (wake) or retry after a back-off.
    const elapsed = performance.now() - connection.startedAt;
    const { waitForBackendMs, lingerMs } = this.#options;
    if (elapsed >= waitForBackendMs) {
      this.#counts.failed++;
      this.#pending.delete(connection);
      const why = ready.length === 0 ? "no process was ready" : "every ready process refused the connection";
      this.#report(new Error(`${why} for ${waitForBackendMs} ms`));
      closeClientCleanly(connection.client, lingerMs);
      return;
    }
    connection.tried.clear();
    const delay = Math.min(5 * 2 ** connection.waits, 200, waitForBackendMs - elapsed);
    connection.waits++;
    this.#waiting.add(connection);
    connection.timer = setTimeout(() => {
      this.#waiting.delete(connection);
      this.#dispatch(connection);
    }, delay);
  }

  /** Round-robin by process index, or the least loaded (round-robin among equals). */
  #pick(candidates: readonly BalancerBackend[]): BalancerBackend {
    let pool = candidates;
    if (this.#options.policy() === "least-connections") {
      const least = Math.min(...candidates.map((backend) => this.load(backend.index)));
      pool = candidates.filter((backend) => this.load(backend.index) === least);
    }
    const chosen = pool.find((backend) => backend.index > this.#last) ?? pool[0]!;
    this.#last = chosen.index;
    return chosen;
  }

  #connect(connection: Connection, target: BalancerBackend): void {
    const { client } = connection;
    // The client stays paused (pauseOnConnect) until a backend has answered, so
    // no byte is read that could not be sent elsewhere: a refusal is invisible.
    const backend = connect({ path: target.socketPath, allowHalfOpen: true });
    connection.connecting = backend;
    backend.on("error", () => {});
    const onFailure = (error: NodeJS.ErrnoException): void => {
      connection.connecting = undefined;
      if (client.destroyed || this.#closing !== undefined) return;
      this.#counts.backendErrors++;
      this.#counts.retries++;
      connection.tried.add(target.index);
      this.#report(error, target);
      this.#dispatch(connection);
    };
    backend.once("error", onFailure);
    backend.once("connect", () => {
      backend.off("error", onFailure);
      connection.connecting = undefined;
      this.#pending.delete(connection);
      clearTimeout(connection.timer);
      if (client.destroyed || this.#closing !== undefined) {
        backend.destroy();
        return;
      }
      this.#relay(client, backend, target.index);
    });
  }

  #relay(client: Socket, backend: Socket, index: number): void {
    this.#load.set(index, this.load(index) + 1);
    this.#relayed.add(client).add(backend);
    relay(
      client,
      backend,
      (error) => {
        if (this.#closing !== undefined) return;
        this.#counts.backendErrors++;
        this.#report(error);
      },
      ({ sent, received }) => {
        this.#relayed.delete(client);
        this.#relayed.delete(backend);
        this.#counts.bytesIn += sent;
        this.#counts.bytesOut += received;
        const load = this.load(index) - 1;
        if (load > 0) this.#load.set(index, load);
        else {
          this.#load.delete(index);
          for (const done of this.#draining.get(index) ?? []) done();
        }
      },
    );
  }

  #report(error: Error, target?: BalancerBackend): void {
    if (this.#options.onConnectionError === undefined) return;
    const to = target ? ` to process ${target.index} (${target.socketPath})` : "";
    this.#options.onConnectionError(new Error(`${this.name}: connecting${to}: ${error.message}`, { cause: error }));
  }
}
