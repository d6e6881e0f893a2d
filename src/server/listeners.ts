// Every listener the daemon serves its API on — the Unix socket, the TCP
// address it was started with, the TCP listener `corral dashboard` asks for —
// is opened here and closed here, so none outlives the daemon.
import { chmod, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { z } from "../util/zod.js";
import { portNumber } from "../contract/rules.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { reportSurvivable, survive } from "../util/diagnostics.js";
import type { DaemonApi, ListenAddress } from "./daemon-api.js";
import { buildApi } from "./http/app.js";

const rememberedPort = z.object({ port: portNumber });

export class Listeners {
  private readonly apis: FastifyInstance[] = [];
  private tcp: string | null = null;
  private dashboard: Promise<ListenAddress> | null = null;

  constructor(
    private readonly daemon: DaemonApi,
    private readonly options: { stateRoot: string; logRequests: boolean },
  ) {}

  /** host:port of the TCP listener, when there is one. */
  get tcpAddress(): string | null {
    return this.tcp;
  }

  /** The API on a Unix socket, mode 0600: the file mode is the access control. */
  async unix(path: string): Promise<void> {
    await rm(path, { force: true });
    const api = await buildApi(this.daemon, { transport: "unix", requireToken: false, logRequests: this.options.logRequests });
    survivesAcceptErrors(api, path);
    await api.listen({ path });
    await chmod(path, 0o600);
    this.apis.push(api);
  }

  /** The API on TCP; throws (and leaves nothing open) when the address is taken. */
  async tcpListener(host: string, port: number, requireToken: boolean): Promise<string> {
    const api = await buildApi(this.daemon, { transport: "tcp", requireToken, logRequests: this.options.logRequests });
    survivesAcceptErrors(api, `${host}:${port}`);
    try {
      await api.listen({ host, port });
    } catch (error) {
      await api.close();
      throw error;
    }
    this.apis.push(api);
    const address = api.server.address();
    if (address === null || typeof address === "string") throw new Error(`the listener on ${host}:${port} has no TCP address`);
    this.tcp = `${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
    return this.tcp;
  }

  /**
   * A TCP listener for the dashboard: the one the daemon was started with, else
   * one on 127.0.0.1 that requires the token, on the port asked for, else the
   * port of last time (so an open page finds the daemon again after a
   * restart), else any free one.
   */
  openDashboard(port?: number): Promise<ListenAddress> {
    if (this.tcp) return Promise.resolve({ listen: this.tcp, urlHost: urlHostOf(this.tcp) });
    this.dashboard ??= this.listenForDashboard(port).catch((error: unknown) => {
      this.dashboard = null;
      throw error;
    });
    return this.dashboard;
  }

  /**
   * On start: the dashboard's listener again, on the port of last time, when
   * `corral dashboard` opened one before and the daemon has no TCP address of
   * its own, so an open page reconnects by itself (its session cookie is
   * derived from the token and stays valid). A port taken meanwhile is
   * reported, not fatal: `corral dashboard` opens another.
   */
  async reopenDashboard(): Promise<void> {
    if (this.tcp) return;
    const port = await readRememberedPort(join(this.options.stateRoot, "dashboard.json"));
    if (port === undefined) return;
    await this.openDashboard(port).catch(survive("server.listeners", "reopen the dashboard listener", { port }));
  }

  private async listenForDashboard(port: number | undefined): Promise<ListenAddress> {
    const file = join(this.options.stateRoot, "dashboard.json");
    const remembered = port === undefined ? await readRememberedPort(file) : undefined;
    const candidates = port !== undefined ? [port] : remembered !== undefined ? [remembered, 0] : [0];
    let lastError: unknown;
    for (const candidate of candidates) {
      try {
        const listen = await this.tcpListener("127.0.0.1", candidate, true);
        const bound = Number(listen.slice(listen.lastIndexOf(":") + 1));
        await writeFileAtomic(file, `${JSON.stringify({ port: bound })}\n`, { mode: 0o600 }).catch(
          survive("server.listeners", "remember the dashboard port", { file }),
        );
        return { listen, urlHost: listen };
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  async close(): Promise<void> {
    await Promise.all(this.apis.splice(0).map((api) => api.close()));
  }
}

async function readRememberedPort(file: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "ENOENT"))
      reportSurvivable("server.listeners", "read the dashboard port", error, { file });
    return undefined;
  }
  try {
    const parsed = rememberedPort.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data.port;
    reportSurvivable("server.listeners", "read the dashboard port", parsed.error, { file });
  } catch (error) {
    reportSurvivable("server.listeners", "read the dashboard port", error, { file });
  }
  return undefined;
}

/** host:port for a browser on this machine: a wildcard address becomes the loopback one. */
function urlHostOf(listen: string): string {
  const match = /^(.*):(\d+)$/.exec(listen);
  if (!match) return listen;
  if (match[1] === "0.0.0.0") return `127.0.0.1:${match[2]}`;
  if (match[1] === "[::]") return `[::1]:${match[2]}`;
  return listen;
}

/**
 * A connection the listener cannot accept (EMFILE, ENFILE: no descriptors left)
 * is that client's failure: Node emits it on the server, where nothing would
 * catch it, and the daemon would exit with every process unsupervised.
 */
function survivesAcceptErrors(api: FastifyInstance, address: string): void {
  api.server.on("error", survive("server.listeners", "accept a connection", { address }));
}
