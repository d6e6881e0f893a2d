// Who may call the API, checked before anything else runs (a plugin that
// breaks encapsulation on purpose: it guards every route). Over the Unix
// socket the file mode is the access control; over TCP every request needs the
// bearer token or a dashboard session (the cookie), requests that would change
// something must come from the same site and, riding on the cookie, carry the
// session's CSRF value; on a loopback listener the Host header must name a
// loopback address, so a DNS-rebound name cannot reach the API. The read-only
// token, and a dashboard session signed in with it, reach only the GET routes
// the table marks readScope (and the dashboard's own page and assets).
import type { FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { DaemonApi } from "../daemon-api.js";
import { CSRF_HEADER, equalStrings } from "../dashboard/session.js";
import { ROUTES } from "./routes-table.js";

export type Transport = "unix" | "tcp";

export interface AccessOptions {
  daemon: Pick<DaemonApi, "token" | "readToken" | "sessions">;
  transport: Transport;
  requireToken: boolean;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Reachable without a session: the handlers decide (login form, token exchange). */
const PUBLIC_PATHS = new Set(["/", "/login", "/logout"]);

const READ_SCOPE: ReadonlySet<string> = new Set(Object.values(ROUTES).flatMap((route) => ("readScope" in route ? [route.url] : [])));
/** What a read-only dashboard session needs besides READ_SCOPE: the page's scripts and styles. */
const DASHBOARD_ASSETS = "/assets/:file";

const pathOf = (request: FastifyRequest) => request.url.split("?")[0] ?? "";

export const access = fp<AccessOptions>(
  async (app, { daemon, transport, requireToken }) => {
    if (transport === "tcp") {
      app.addHook("onRequest", async (request, reply) => {
        const refusal = crossSiteRefusal(request, daemon);
        if (refusal) {
          await reply.code(403).send({ error: refusal });
          return reply;
        }
      });
    }
    if (requireToken) {
      app.addHook("onRequest", async (request, reply) => {
        if (hasBearer(request, daemon.token)) return;
        if (hasBearer(request, daemon.readToken)) {
          if (inReadScope(request)) return;
          await reply.code(403).send({ error: readOnlyRefusal("the read-only token", request) });
          return reply;
        }
        if (transport === "tcp") {
          if (PUBLIC_PATHS.has(pathOf(request))) return;
          const session = daemon.sessions.sessionOf(request);
          if (session?.scope === "admin") return;
          if (session?.scope === "read") {
            // The same rule as for the bearer read token: the cookie stands for the token it was signed in with.
            if (inReadScope(request) || (SAFE_METHODS.has(request.method) && request.routeOptions.url === DASHBOARD_ASSETS)) return;
            await reply.code(403).send({
              error: readOnlyRefusal("this dashboard session is read-only (signed in with <state dir>/token.read): it", request),
            });
            return reply;
          }
        }
        await reply
          .code(401)
          .header("www-authenticate", 'Bearer realm="corral"')
          .send({ error: "a bearer token is required (Authorization: Bearer <token>; see <state dir>/token)" });
        return reply;
      });
    }
  },
  { name: "corral-access", fastify: "5.x" },
);

function inReadScope(request: FastifyRequest): boolean {
  return SAFE_METHODS.has(request.method) && READ_SCOPE.has(request.routeOptions.url ?? "");
}

function readOnlyRefusal(who: string, request: FastifyRequest): string {
  return `${who} reaches only GET ${[...READ_SCOPE].join(", ")}; ${request.method} ${pathOf(request)} needs the admin token (<state dir>/token)`;
}

function hasBearer(request: FastifyRequest, token: string): boolean {
  return equalStrings(request.headers.authorization ?? "", `Bearer ${token}`);
}

function crossSiteRefusal(request: FastifyRequest, daemon: AccessOptions["daemon"]): string | null {
  const host = request.headers.host ?? "";
  const bound = request.server.server.address();
  const listening = bound !== null && typeof bound === "object" ? bound.address : "";
  if (isLoopback(listening) && !isLoopbackHost(host)) return "this listener answers only to loopback host names";
  if (SAFE_METHODS.has(request.method)) return null;
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) return "cross-origin request refused";
  const site = request.headers["sec-fetch-site"];
  if (site === "cross-site" || site === "same-site") return "cross-site request refused";
  // A request that rides on the cookie (not on a valid bearer header) proves it came from the page (the login form has no session yet).
  const session = hasBearer(request, daemon.token) || pathOf(request) === "/login" ? null : daemon.sessions.sessionOf(request);
  if (session !== null && !equalStrings(String(request.headers[CSRF_HEADER] ?? ""), daemon.sessions.csrf(session)))
    return `missing or wrong ${CSRF_HEADER} header`;
  return null;
}

function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address === "::ffff:127.0.0.1";
}

function isLoopbackHost(host: string): boolean {
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  return name === "localhost" || name === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}
