// The dashboard: a static page (built into dist/web by `npm run build:web`)
// served at `/` on the TCP listener only, and the browser's way in.
//
// Access: the daemon's token (or a one-time ticket minted over the Unix socket
// by `corral dashboard`) is exchanged once for a session cookie (HttpOnly,
// SameSite=Strict). The cookie is signed with a key derived from the token, so
// it stays valid across daemon restarts (the page reconnects by itself) and
// dies with a new token. State-changing requests that ride on the cookie must
// carry the session's CSRF value in `x-corral-csrf`, and any request whose
// Origin is another site is refused. On a loopback listener the Host header
// must name a loopback address, so a DNS-rebound name cannot reach the API.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { writeFileAtomic } from "../util/atomic-write.js";
import type { Daemon } from "./daemon.js";

export const CSRF_HEADER = "x-corral-csrf";
const SESSION_SECONDS = 24 * 60 * 60;
const TICKET_MS = 5 * 60 * 1000;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Reachable without a session: the handlers decide (login form, token exchange). */
const PUBLIC_PATHS = new Set(["/", "/login", "/logout"]);

export interface DashboardAccess {
  /** For the bearer-token hook: may this request pass without the bearer header? */
  admits(request: FastifyRequest): boolean;
}

interface ApiLike {
  requireToken: boolean;
}

export function registerDashboard(app: FastifyInstance, daemon: Daemon, options: ApiLike): DashboardAccess {
  const sessions = new SessionSigner(daemon.token);
  const listener = (): AddressInfo | null => {
    const address = app.server.address();
    return address !== null && typeof address === "object" ? address : null;
  };
  const cookieName = () => `corral_session_${listener()?.port ?? 0}`;
  const sessionOf = (request: FastifyRequest): string | null => sessions.verify(readCookie(request.headers.cookie, cookieName()));

  // Cross-site and DNS-rebinding defences, before any other hook (the bearer check included).
  app.addHook("onRequest", async (request, reply) => {
    const tcp = listener();
    if (!tcp) return;
    const refusal = crossSiteRefusal(request, tcp, daemon.token, sessionOf, sessions);
    if (refusal) {
      await reply.code(403).send({ error: refusal });
      return reply;
    }
  });

  // Event and log streams last until the client leaves: end them when the server closes, or close()
  // (daemon shutdown or restart) would wait for every open dashboard tab and `corral events`.
  const streams = new Set<FastifyRequest["raw"]>();
  app.addHook("onRequest", async (request) => {
    if (!/^\/v1\/(events|services\/[^/?]+\/logs)(\?|$)/.test(request.url)) return;
    streams.add(request.raw);
    request.raw.once("close", () => streams.delete(request.raw));
  });
  app.addHook("preClose", async () => {
    for (const stream of streams) stream.destroy();
    // The Unix socket's server closes with the daemon: so does the TCP listener `corral dashboard` opened, before shutdown() returns.
    if (!listener()) await closeOpenedListener(daemon);
  });

  const page = (request: FastifyRequest, reply: FastifyReply) =>
    servePage(request, reply, { daemon, sessions, cookieName: cookieName(), requireToken: options.requireToken, sessionOf });
  app.get("/", async (request, reply) =>
    listener()
      ? page(request, reply)
      : reply.code(404).send({ error: "the dashboard is served on the TCP listener: run `corral dashboard`" }),
  );
  app.get("/login", async (request, reply) => (listener() ? page(request, reply) : reply.code(404).send({ error: "not found" })));
  // A scope of its own, so only the login form accepts form-encoded bodies.
  void app.register(async (scope) => {
    scope.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    scope.post<{ Body: { token?: unknown } }>("/login", async (request, reply) => {
      if (!listener()) return reply.code(404).send({ error: "not found" });
      const token = typeof request.body?.token === "string" ? request.body.token.trim() : "";
      if (!equalStrings(token, daemon.token)) return loginPage(reply.code(401), "That token is not this daemon's token.");
      return startSession(reply, sessions, cookieName());
    });
  });
  app.post("/logout", async (_request, reply) =>
    reply.header("set-cookie", `${cookieName()}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`).code(204).send(),
  );
  app.get<{ Params: { file: string } }>("/assets/:file", async (request, reply) => {
    if (!listener()) return reply.code(404).send({ error: "not found" });
    const bundle = await loadBundle();
    const asset = bundle?.assets.get(request.params.file);
    if (!asset) return reply.code(404).send({ error: "no such asset" });
    return sendAsset(request, reply, asset);
  });

  // Unix socket only (a browser cannot reach it): open the TCP listener if there is none, mint a one-time login link.
  app.post<{ Body: { port?: unknown } }>(`/v1/dashboard/open`, async (request, reply) => {
    if (listener()) return reply.code(404).send({ error: "only on the Unix socket" });
    const port = request.body?.port;
    if (port !== undefined && (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535)) {
      return reply.code(400).send({ error: "port must be an integer between 0 and 65535", field: "port" });
    }
    const address = await ensureTcpListener(daemon, port);
    const ticket = mintTicket(daemon);
    return {
      url: `http://${address.urlHost}/login?ticket=${ticket.id}`,
      address: address.listen,
      expiresAt: new Date(ticket.expiresAt).toISOString(),
    };
  });

  return {
    admits(request) {
      if (!listener()) return false;
      const path = request.url.split("?")[0] ?? "";
      return PUBLIC_PATHS.has(path) || sessionOf(request) !== null;
    },
  };
}

function crossSiteRefusal(
  request: FastifyRequest,
  tcp: AddressInfo,
  token: string,
  sessionOf: (r: FastifyRequest) => string | null,
  sessions: SessionSigner,
): string | null {
  const host = request.headers.host ?? "";
  if (isLoopback(tcp.address) && !isLoopbackHost(host)) return "this listener answers only to loopback host names";
  if (SAFE_METHODS.has(request.method)) return null;
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) return "cross-origin request refused";
  const site = request.headers["sec-fetch-site"];
  if (site === "cross-site" || site === "same-site") return "cross-site request refused";
  // A request that rides on the cookie (not on a valid bearer header) proves it came from the page (the login form has no session yet).
  const bearer = equalStrings(request.headers.authorization ?? "", `Bearer ${token}`);
  const sid = bearer || request.url.split("?")[0] === "/login" ? null : sessionOf(request);
  if (sid !== null && !equalStrings(String(request.headers[CSRF_HEADER] ?? ""), sessions.csrf(sid)))
    return `missing or wrong ${CSRF_HEADER} header`;
  return null;
}

interface PageContext {
  daemon: Daemon;
  sessions: SessionSigner;
  cookieName: string;
  requireToken: boolean;
  sessionOf(request: FastifyRequest): string | null;
}

async function servePage(request: FastifyRequest, reply: FastifyReply, ctx: PageContext): Promise<FastifyReply> {
  const query = request.query as { token?: string; ticket?: string };
  if (query.ticket !== undefined || query.token !== undefined) {
    const valid = query.ticket !== undefined ? redeemTicket(ctx.daemon, query.ticket) : equalStrings(query.token ?? "", ctx.daemon.token);
    if (!valid)
      return loginPage(
        reply.code(401),
        query.ticket !== undefined
          ? "That login link is used up or expired: run `corral dashboard` for a new one."
          : "That token is not this daemon's token.",
      );
    return startSession(reply, ctx.sessions, ctx.cookieName);
  }
  let sid = ctx.sessionOf(request);
  if (sid === null) {
    if (ctx.requireToken) return loginPage(reply.code(401));
    // --no-auth on loopback: a session all the same, so the page's requests carry a CSRF value.
    const session = ctx.sessions.issue();
    sid = session.sid;
    reply.header("set-cookie", sessionCookie(ctx.cookieName, session.value));
  }
  const bundle = await loadBundle();
  if (!bundle) return reply.code(503).type("text/plain").send("The dashboard is not built: run `npm run build:web`.");
  securityHeaders(reply);
  return reply
    .type("text/html; charset=utf-8")
    .header("cache-control", "no-store")
    .send(bundle.index.replace("__CORRAL_CSRF__", ctx.sessions.csrf(sid)));
}

function startSession(reply: FastifyReply, sessions: SessionSigner, cookieName: string): FastifyReply {
  const session = sessions.issue();
  // 303: the token leaves the address bar; the browser comes back with the cookie.
  return reply.header("set-cookie", sessionCookie(cookieName, session.value)).header("referrer-policy", "no-referrer").redirect("/", 303);
}

function sessionCookie(name: string, value: string): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}`;
}

function securityHeaders(reply: FastifyReply): void {
  reply
    .header(
      "content-security-policy",
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    )
    .header("x-frame-options", "DENY")
    .header("x-content-type-options", "nosniff")
    // Not no-referrer: with it a form post's Origin is "null", and the cross-site check refuses the login.
    .header("referrer-policy", "same-origin");
}

function loginPage(reply: FastifyReply, error?: string): FastifyReply {
  securityHeaders(reply);
  const message = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : "";
  return reply.type("text/html; charset=utf-8").header("cache-control", "no-store").send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>corral — sign in</title><link rel="icon" href="data:,">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1d2330}
input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;margin:.25rem 0 1rem}button{font:inherit;padding:.45rem 1.2rem}
.error{color:#a33a00;font-weight:600}code{background:#eef1f5;padding:0 .25rem}</style></head>
<body><main><h1>corral dashboard</h1>${message}
<p>Sign in with a link from <code>corral dashboard</code>, or with the daemon's token (<code>&lt;state dir&gt;/token</code>).</p>
<form method="post" action="/login"><label for="token">Token</label><input id="token" name="token" type="password" autocomplete="off" required autofocus><button type="submit">Sign in</button></form>
</main></body></html>`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// --- sessions: stateless, signed with a key derived from the daemon's token ---

class SessionSigner {
  private readonly key: Buffer;

  constructor(token: string) {
    this.key = createHmac("sha256", token).update("corral dashboard session key").digest();
  }

  private mac(text: string): string {
    return createHmac("sha256", this.key).update(text).digest("base64url");
  }

  issue(): { sid: string; value: string } {
    const sid = randomBytes(16).toString("base64url");
    const expires = Math.floor(Date.now() / 1000) + SESSION_SECONDS;
    return { sid, value: `${sid}.${expires}.${this.mac(`${sid}.${expires}`)}` };
  }

  /** The session id of a valid, unexpired cookie value; null otherwise. */
  verify(value: string | undefined): string | null {
    const [sid, expires, mac, extra] = (value ?? "").split(".");
    if (!sid || !expires || !mac || extra !== undefined) return null;
    if (!equalStrings(mac, this.mac(`${sid}.${expires}`))) return null;
    return Number(expires) * 1000 > Date.now() ? sid : null;
  }

  csrf(sid: string): string {
    return this.mac(`csrf:${sid}`);
  }
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address === "::ffff:127.0.0.1";
}

function isLoopbackHost(host: string): boolean {
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  return name === "localhost" || name === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

// --- one-time tickets (minted over the Unix socket, redeemed once over TCP) ---

const tickets = new WeakMap<Daemon, Map<string, number>>();

function mintTicket(daemon: Daemon): { id: string; expiresAt: number } {
  const live = tickets.get(daemon) ?? new Map<string, number>();
  tickets.set(daemon, live);
  const now = Date.now();
  for (const [id, expiresAt] of live) if (expiresAt <= now) live.delete(id);
  const id = randomBytes(24).toString("base64url");
  live.set(id, now + TICKET_MS);
  return { id, expiresAt: now + TICKET_MS };
}

function redeemTicket(daemon: Daemon, id: string): boolean {
  const live = tickets.get(daemon);
  const expiresAt = live?.get(id);
  if (expiresAt === undefined) return false;
  live!.delete(id);
  return expiresAt > Date.now();
}

// --- the TCP listener `corral dashboard` asks for ---

interface TcpAddress {
  listen: string;
  /** host:port for a browser on this machine. */
  urlHost: string;
}

const opening = new WeakMap<Daemon, Promise<TcpAddress>>();
const opened = new WeakMap<Daemon, FastifyInstance>();

async function closeOpenedListener(daemon: Daemon): Promise<void> {
  const api = opened.get(daemon);
  opened.delete(daemon);
  await api?.close();
}

function toUrlHost(listen: string): string {
  const match = /^(.*):(\d+)$/.exec(listen);
  if (!match) return listen;
  const host = match[1]!;
  if (host === "0.0.0.0") return `127.0.0.1:${match[2]}`;
  if (host === "[::]") return `[::1]:${match[2]}`;
  return listen;
}

function ensureTcpListener(daemon: Daemon, port: number | undefined): Promise<TcpAddress> {
  if (daemon.tcpAddress) {
    // Started with --tcp: that listener serves the dashboard (with its own auth setting).
    return Promise.resolve({ listen: daemon.tcpAddress, urlHost: toUrlHost(daemon.tcpAddress) });
  }
  const pending =
    opening.get(daemon) ??
    (async () => {
      // Loaded here, not at the top: api.ts registers this module's routes.
      // eslint-disable-next-line import-x/no-cycle -- to be removed by the server's split into plugins
      const { buildApi } = await import("./api.js");
      const rememberedPath = join(daemon.paths.root, "dashboard.json");
      const remembered = await readFile(rememberedPath, "utf8")
        .then((text) => (JSON.parse(text) as { port?: number }).port)
        .catch(() => undefined);
      // The same port as last time, so an open page finds the daemon again after a restart.
      const candidates = port !== undefined ? [port] : remembered ? [remembered, 0] : [0];
      let lastError: unknown;
      for (const candidate of candidates) {
        const api = await buildApi(daemon, { requireToken: true, logRequests: false });
        try {
          await api.listen({ host: "127.0.0.1", port: candidate });
        } catch (error) {
          lastError = error;
          await api.close();
          continue;
        }
        const bound = api.server.address() as AddressInfo;
        daemon.tcpAddress = `127.0.0.1:${bound.port}`;
        opened.set(daemon, api);
        void daemon.closed.then(() => closeOpenedListener(daemon));
        await writeFileAtomic(rememberedPath, `${JSON.stringify({ port: bound.port })}\n`, { mode: 0o600 }).catch(() => {});
        return { listen: daemon.tcpAddress, urlHost: daemon.tcpAddress };
      }
      opening.delete(daemon);
      throw lastError;
    })();
  opening.set(daemon, pending);
  return pending;
}

// --- the built page ---

interface Asset {
  body: Buffer;
  gzipped: Buffer;
  type: string;
  etag: string;
}

interface Bundle {
  index: string;
  assets: Map<string, Asset>;
}

let bundle: Promise<Bundle | null> | null = null;

/** dist/web beside the compiled server (dist/server), or from the sources (src/server) during development. */
function bundleDir(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [join(here, "..", "web"), join(here, "..", "..", "dist", "web")]) {
    if (existsSync(join(dir, "index.html"))) return dir;
  }
  return null;
}

function loadBundle(): Promise<Bundle | null> {
  bundle ??= (async () => {
    const dir = bundleDir();
    if (!dir) return null;
    const types: Record<string, string> = { js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8" };
    const assets = new Map<string, Asset>();
    for (const [name, ext] of [
      ["app.js", "js"],
      ["app.css", "css"],
    ] as const) {
      const body = await readFile(join(dir, name));
      assets.set(name, {
        body,
        gzipped: gzipSync(body, { level: 9 }),
        type: types[ext]!,
        etag: `"${createHash("sha1").update(body).digest("base64url")}"`,
      });
    }
    return { index: await readFile(join(dir, "index.html"), "utf8"), assets };
  })().catch(() => null);
  // Not cached when missing, so a build made while the daemon runs is picked up.
  void bundle.then((b) => {
    if (!b) bundle = null;
  });
  return bundle;
}

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  reply
    .header("etag", asset.etag)
    .header("cache-control", "no-cache")
    .header("vary", "accept-encoding")
    .header("x-content-type-options", "nosniff")
    .type(asset.type);
  if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
  if (/\bgzip\b/.test(String(request.headers["accept-encoding"] ?? "")))
    return reply.header("content-encoding", "gzip").send(asset.gzipped);
  return reply.send(asset.body);
}
