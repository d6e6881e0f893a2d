// The HTML the dashboard serves itself: the page (from the bundle, with the
// session's CSRF value and scope in it) and the login form.
import type { FastifyReply } from "fastify";
import { loadBundle } from "./assets.js";
import type { SessionScope } from "./session.js";

export function securityHeaders(reply: FastifyReply): void {
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

/** The scope is for the page to leave out what it may not do; the daemon enforces it (http/access.ts). */
export async function dashboardPage(reply: FastifyReply, csrf: string, scope: SessionScope): Promise<FastifyReply> {
  const bundle = await loadBundle();
  if (!bundle) return reply.code(503).type("text/plain").send("The dashboard is not built: run `npm run build:web`.");
  securityHeaders(reply);
  return reply
    .type("text/html; charset=utf-8")
    .header("cache-control", "no-store")
    .send(bundle.index.replace("__CORRAL_CSRF__", csrf).replace("__CORRAL_SCOPE__", scope));
}

export function loginPage(reply: FastifyReply, error?: string): FastifyReply {
  securityHeaders(reply);
  const message = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : "";
  return reply.type("text/html; charset=utf-8").header("cache-control", "no-store").send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>corral — sign in</title><link rel="icon" href="data:,">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1d2330}
input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;margin:.25rem 0 1rem}button{font:inherit;padding:.45rem 1.2rem}
.error{color:#a33a00;font-weight:600}code{background:#eef1f5;padding:0 .25rem}</style></head>
<body><main><h1>corral dashboard</h1>${message}
<p>Sign in with a link from <code>corral dashboard</code>, or with the daemon's token (<code>&lt;state dir&gt;/token</code>).
The read-only token (<code>&lt;state dir&gt;/token.read</code>) signs in to a view that changes nothing and shows no logs or secrets.</p>
<form method="post" action="/login"><label for="token">Token</label><input id="token" name="token" type="password" autocomplete="off" required autofocus><button type="submit">Sign in</button></form>
</main></body></html>`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
