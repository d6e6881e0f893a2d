// The dashboard's routes: the page at `/` on the TCP listener only, the login
// form, the assets, and (over the Unix socket only, which a browser cannot
// reach) the one-time login link `corral dashboard` asks for.
//
// Access: the daemon's token (or a one-time ticket) is exchanged once for a
// session cookie (HttpOnly, SameSite=Strict); the read-only token for a
// read-only session, which the page shows and http/access.ts enforces; see session.ts.
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "../../util/zod.js";
import type { DaemonApi } from "../daemon-api.js";
import type { Transport } from "../http/access.js";
import { ROUTES } from "../http/routes-table.js";
import type { ApiPlugin, ZodTypeProvider } from "../http/zod.js";
import { loadBundle, sendAsset } from "./assets.js";
import { dashboardPage, loginPage } from "./pages.js";
import { type SessionScope, cookieName, equalStrings, sessionCookie } from "./session.js";

export interface DashboardOptions extends Record<string, unknown> {
  daemon: Pick<DaemonApi, "token" | "readToken" | "sessions" | "openDashboardListener">;
  transport: Transport;
  requireToken: boolean;
}

const pageQuery = z.object({ token: z.string().optional(), ticket: z.string().optional() });
const loginForm = z.object({ token: z.string().optional() }).nullish();
const assetParams = z.object({ file: z.string() });

export const dashboardRoutes: ApiPlugin<DashboardOptions> = async (app, { daemon, transport, requireToken }) => {
  if (transport === "unix") {
    app.get("/", async (_request, reply) =>
      reply.code(404).send({ error: "the dashboard is served on the TCP listener: run `corral dashboard`" }),
    );
    app.post(ROUTES.dashboardOpen.url, { schema: { body: ROUTES.dashboardOpen.body } }, async (request) => {
      const address = await daemon.openDashboardListener(request.body.port);
      // A read-only link signs in with the read token's scope: the page can look, not change anything.
      const ticket = daemon.sessions.mintTicket(request.body.readOnly === true ? "read" : "admin");
      return {
        url: `http://${address.urlHost}/login?ticket=${ticket.id}`,
        address: address.listen,
        expiresAt: new Date(ticket.expiresAt).toISOString(),
      };
    });
    return;
  }

  const sessions = daemon.sessions;
  /** The scope a token signs in with: the admin token's or the read-only token's; null for anything else. */
  const scopeOfToken = (token: string): SessionScope | null =>
    equalStrings(token, daemon.token) ? "admin" : equalStrings(token, daemon.readToken) ? "read" : null;
  const page = async (request: FastifyRequest, reply: FastifyReply, query: z.infer<typeof pageQuery>) => {
    if (query.ticket !== undefined || query.token !== undefined) {
      const scope = query.ticket !== undefined ? sessions.redeemTicket(query.ticket) : scopeOfToken(query.token ?? "");
      if (scope === null)
        return loginPage(
          reply.code(401),
          query.ticket !== undefined ? "That login link is used up or expired: run `corral dashboard` for a new one." : NOT_A_TOKEN,
        );
      return startSession(request, reply, sessions.issue(scope).value);
    }
    let session = sessions.sessionOf(request);
    if (session === null) {
      if (requireToken) return loginPage(reply.code(401));
      // --no-auth on loopback: a session all the same, so the page's requests carry a CSRF value.
      const issued = sessions.issue("admin");
      session = issued.session;
      reply.header("set-cookie", sessionCookie(cookieName(request), issued.value));
    }
    return dashboardPage(reply, sessions.csrf(session), session.scope);
  };

  app.get("/", { schema: { querystring: pageQuery } }, async (request, reply) => page(request, reply, request.query));
  app.get("/login", { schema: { querystring: pageQuery } }, async (request, reply) => page(request, reply, request.query));
  // A scope of its own, so only the login form accepts form-encoded bodies.
  await app.register(async (plain) => {
    const scope = plain.withTypeProvider<ZodTypeProvider>();
    scope.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    });
    scope.post("/login", { schema: { body: loginForm } }, async (request, reply) => {
      const scope = scopeOfToken(request.body?.token?.trim() ?? "");
      if (scope === null) return loginPage(reply.code(401), NOT_A_TOKEN);
      return startSession(request, reply, sessions.issue(scope).value);
    });
  });
  app.post("/logout", async (request, reply) =>
    reply
      .header("set-cookie", `${cookieName(request)}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`)
      .code(204)
      .send(),
  );
  app.get("/assets/:file", { schema: { params: assetParams } }, async (request, reply) => {
    const asset = (await loadBundle())?.assets.get(request.params.file);
    if (!asset) return reply.code(404).send({ error: "no such asset" });
    return sendAsset(request, reply, asset);
  });
  app.post(ROUTES.dashboardOpen.url, async (_request, reply) => reply.code(404).send({ error: "only on the Unix socket" }));
};

const NOT_A_TOKEN = "That token is not this daemon's token (<state dir>/token) nor its read-only token (<state dir>/token.read).";

function startSession(request: FastifyRequest, reply: FastifyReply, cookie: string): FastifyReply {
  // 303: the token leaves the address bar; the browser comes back with the cookie.
  return reply
    .header("set-cookie", sessionCookie(cookieName(request), cookie))
    .header("referrer-policy", "no-referrer")
    .redirect("/", 303);
}
