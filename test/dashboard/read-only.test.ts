// A read-only dashboard session: signed in with <state dir>/token.read, the
// page shows everything it may read, offers none of what it may not do, and
// the daemon refuses (403) whatever the page's own cookie and CSRF value could
// forge. The scope is signed into the cookie: an edited one is no session
// (401), and each kind of session dies when its token changes.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "../cli/project.js";
import { type Harness, processesOfService, row, screenshot, SERVICES, startHarness } from "./harness.js";

// page.evaluate's callbacks run in the browser; the test program has no DOM types.
declare const document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };

/** What the daemon answered one request: its status and its error, if any. */
interface Answer {
  status: number;
  error: string;
}

/** Every change (and every read outside the read scope) a page could ask for. */
const BIN = join(ROOT, "bin", "corral.js");

const FORGED: [method: string, path: string, body?: unknown][] = [
  ["POST", "/v1/services/web/scale", { scale: 1 }],
  ["POST", "/v1/services/web/restart", {}],
  ["POST", "/v1/services/web/stop", {}],
  ["POST", "/v1/services/web/processes/0/restart", {}],
  ["POST", "/v1/services/web/processes/0/kill", { signal: "SIGKILL" }],
  ["DELETE", "/v1/services/worker"],
  ["PUT", "/v1/secrets/forged", { value: "x" }],
  ["POST", "/v1/shutdown", {}],
  ["GET", "/v1/secrets"],
  ["GET", "/v1/services/web/logs"],
  ["GET", "/v1/services/web/run-spec"],
];

describe("a read-only dashboard session", { timeout: 240_000 }, () => {
  let h: Harness;
  const cookieName = () => `corral_session_${new URL(h.base).port}`;
  /** The session cookie the login form sets for a token, as a Node client would get it. */
  const signIn = async (token: string): Promise<string> => {
    const answer = await fetch(`${h.base}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: h.base },
      body: new URLSearchParams({ token }).toString(),
      redirect: "manual",
    });
    assert.equal(answer.status, 303, await answer.text());
    const value = new RegExp(`^${cookieName()}=([^;]+)`).exec(answer.headers.get("set-cookie") ?? "")?.[1];
    assert.ok(value, `a session cookie in ${answer.headers.get("set-cookie")}`);
    return value;
  };
  const withCookie = (value: string, path = "/v1/processes") =>
    fetch(`${h.base}${path}`, { headers: { cookie: `${cookieName()}=${value}` } });

  before(async () => {
    h = await startHarness("readonly", { services: { web: SERVICES.web!, worker: SERVICES.worker! } });
  });
  after(async () => {
    await h?.cleanup();
  });

  it("signs in with the read-only token: services live, a read-only badge, no actions, no logs, no secrets", async () => {
    await h.page.goto(`${h.base}/`);
    await h.page.locator('input[name="token"]').fill(h.daemon.readToken);
    await h.page.locator('button[type="submit"]').click();
    await h.page.locator(row("web-0", "online")).waitFor();
    await h.page.locator(row("web-1", "online")).waitFor();
    await h.page.locator(row("worker-0")).waitFor();
    // The events stream and the polls are in the read scope: the page is live, not "Reconnecting…".
    await h.page.locator('[data-connection="live"]').waitFor();
    assert.equal((await h.page.locator("[data-read-only]").textContent())?.trim(), "read-only");
    assert.ok(await h.page.locator("[data-read-only]").isVisible());
    assert.match((await h.page.locator("[data-read-only-notice]").textContent()) ?? "", /logs/i);
    for (const action of ["restart-process", "kill", "logs"])
      assert.equal(await h.page.locator(`[data-action="${action}"]`).count(), 0, `no ${action} button`);
    assert.equal(await h.page.locator("[data-read-only-actions]").count(), 3, "every process says it has no actions");
    assert.equal(await h.page.locator('a[href*="/logs"]').count(), 0, "no link to logs");
    assert.equal(await h.page.locator('nav a[href="#/secrets"]').count(), 0, "no secrets in the navigation");
    await screenshot(h.page, "read-only-services");

    await h.page.goto(`${h.base}/#/services/web`);
    await h.page.locator('[data-service-page="web"]').waitFor();
    await h.page.locator("[data-config]", { hasText: "command" }).waitFor();
    for (const action of ["scale", "restart", "drop", "restart-process", "kill"])
      assert.equal(await h.page.locator(`[data-action="${action}"]`).count(), 0, `no ${action} button on the service page`);
    assert.match((await h.page.locator("p[data-read-only-actions]").textContent()) ?? "", /admin token/);
    await screenshot(h.page, "read-only-service");

    // Typed in by hand: a view that says why instead of a 403.
    await h.page.goto(`${h.base}/#/services/web/logs`);
    assert.match((await h.page.locator('[data-needs-admin="logs"]').textContent()) ?? "", /read-only token's reach/);
    await h.page.goto(`${h.base}/#/secrets`);
    assert.match((await h.page.locator('[data-needs-admin="secrets"]').textContent()) ?? "", /admin token/);
  });

  it("gets 403, saying why, for every change the page's own cookie and CSRF value could forge; nothing changes", async () => {
    await h.page.goto(`${h.base}/`);
    await h.page.locator('[data-connection="live"]').waitFor();
    const pids = processesOfService(h.environment, "web").sort();
    assert.equal(pids.length, 2);
    // From inside the page: the browser sends the cookie, the page adds its CSRF value, as the app's own calls do.
    const answers = await h.page.evaluate(async (requests) => {
      const csrf = document.querySelector('meta[name="corral-csrf"]')?.getAttribute("content") ?? "";
      const out: { status: number; error: string }[] = [];
      for (const [method, path, body] of requests) {
        const headers: Record<string, string> = { "x-corral-csrf": csrf };
        if (body !== undefined) headers["content-type"] = "application/json";
        const res = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
        const text = await res.text();
        let error = "";
        try {
          error = (JSON.parse(text) as { error?: string }).error ?? "";
        } catch {}
        out.push({ status: res.status, error });
      }
      return out;
    }, FORGED);
    FORGED.forEach(([method, path], i) => {
      const answer: Answer | undefined = answers[i];
      assert.equal(answer?.status, 403, `${method} ${path}: ${JSON.stringify(answer)}`);
      assert.match(answer.error, /dashboard session is read-only/, `${method} ${path}`);
      assert.match(answer.error, /needs the admin token \(<state dir>\/token\)/, `${method} ${path}`);
    });

    // The same from a Node client holding the cookie and the CSRF value: the scope is the server's rule, not the page's.
    const cookie = (await h.context.cookies(h.base)).find((c) => c.name === cookieName());
    assert.ok(cookie, "the browser holds the session cookie");
    assert.match(cookie.value, /^[\w-]+\.\d+\.read\.[\w-]+$/, "the cookie names its scope");
    const csrf = await h.page.locator('meta[name="corral-csrf"]').getAttribute("content");
    const forged = await fetch(`${h.base}/v1/services/web/scale`, {
      method: "POST",
      headers: {
        cookie: `${cookie.name}=${cookie.value}`,
        "x-corral-csrf": csrf ?? "",
        origin: h.base,
        "content-type": "application/json",
      },
      body: JSON.stringify({ scale: 5 }),
    });
    assert.equal(forged.status, 403, await forged.text());
    assert.equal((await withCookie(cookie.value, "/v1/services?mask=env")).status, 200, "what it may read, it reads");

    assert.equal(h.daemon.state?.services.web?.scale, 2, "web still has 2 processes wanted");
    assert.ok(h.daemon.state?.services.worker, "worker is still there");
    assert.deepEqual(processesOfService(h.environment, "web").sort(), pids, "no process was restarted, stopped or killed");
    const admin = { authorization: `Bearer ${h.daemon.token}` };
    assert.deepEqual(await (await fetch(`${h.base}/v1/secrets`, { headers: admin })).json(), [], "no secret was set");
    assert.equal((await fetch(`${h.base}/healthz`, { headers: admin })).status, 200, "the daemon still serves");
  });

  it("is no session at all (401) once its scope is edited in the cookie", async () => {
    const value = await signIn(h.daemon.readToken);
    const [sid, expires, scope, mac] = value.split(".");
    assert.equal(scope, "read");
    assert.equal((await withCookie(value)).status, 200, "the cookie as issued");
    for (const edited of [`${sid}.${expires}.admin.${mac}`, `${sid}.${expires}.${mac}`, `${sid}.${Number(expires) + 3600}.read.${mac}`]) {
      const answer = await withCookie(edited);
      assert.equal(answer.status, 401, edited);
      assert.equal((await withCookie(edited, "/v1/secrets")).status, 401, edited);
    }
    // In the browser: the edited cookie gets the login form, not an admin page.
    await h.context.addCookies([{ name: cookieName(), value: `${sid}.${expires}.${mac}`, url: h.base }]);
    const page = await h.page.goto(`${h.base}/`);
    assert.equal(page?.status(), 401);
    await h.page.locator('input[name="token"]').waitFor();
  });

  it("opens from `corral dashboard --read-only`'s link as from the token, and signs out to sign in as admin", async () => {
    await h.context.clearCookies();
    // Not spawnSync: the daemon runs in this process and must answer meanwhile.
    const cli = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, "dashboard", "--read-only", "--no-open", "--state-dir", h.stateDir], {
        env: { ...process.env, CORRAL_STATE_DIR: "" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      child.once("error", reject);
      child.once("close", (status) => resolve({ status, stdout, stderr }));
    });
    assert.equal(cli.status, 0, cli.stderr);
    const link = /^(http:\/\/\S+\/login\?ticket=\S+)$/m.exec(cli.stdout)?.[1];
    assert.ok(link, cli.stdout);
    await h.page.goto(link);
    await h.page.locator(row("web-0", "online")).waitFor();
    await h.page.locator("[data-read-only]").waitFor();
    assert.equal(await h.page.locator('[data-action="restart-process"]').count(), 0);
    // The way up: the notice's button ends the read session and brings the login form for the admin token.
    await h.page.locator('[data-action="sign-in-admin"]').click();
    await h.page.locator('input[name="token"]').fill(h.daemon.token);
    await h.page.locator('button[type="submit"]').click();
    await h.page.locator('[data-action="restart-process"]').first().waitFor();
    assert.equal(await h.page.locator("[data-read-only]").count(), 0);
  });

  it("leaves an admin session as it was: no badge, every action, secrets", async () => {
    await h.context.clearCookies();
    await h.page.goto(`${h.base}/?token=${h.daemon.token}`);
    await h.page.locator(row("web-0", "online")).waitFor();
    await h.page.locator('[data-connection="live"]').waitFor();
    assert.equal(await h.page.locator("[data-read-only]").count(), 0);
    assert.equal(await h.page.locator("[data-read-only-notice]").count(), 0);
    assert.equal(await h.page.locator('[data-action="restart-process"]:enabled').count(), 3);
    assert.equal(await h.page.locator('[data-action="logs"]').count(), 3);
    await h.page.locator('nav a[href="#/secrets"]').click();
    await h.page.locator("form.secret-form").waitFor();
    const answers = await h.page.evaluate(async () => {
      const csrf = document.querySelector('meta[name="corral-csrf"]')?.getAttribute("content") ?? "";
      const headers = { "x-corral-csrf": csrf, "content-type": "application/json" };
      const put = await fetch("/v1/secrets/admin-check", { method: "PUT", headers, body: JSON.stringify({ value: "v" }) });
      const del = await fetch("/v1/secrets/admin-check", { method: "DELETE", headers: { "x-corral-csrf": csrf } });
      return [put.status, del.status];
    });
    assert.deepEqual(answers, [200, 200]);
    const cookie = (await h.context.cookies(h.base)).find((c) => c.name === cookieName());
    assert.match(cookie?.value ?? "", /^[\w-]+\.\d+\.[\w-]+$/, "an admin cookie keeps its format");
  });

  it("dies when its token changes, and only then", async () => {
    const read = await signIn(h.daemon.readToken);
    const admin = await signIn(h.daemon.token);
    // A new read-only token: the read session dies, the admin one lives.
    await h.restartDaemon({ beforeStart: () => writeFileSync(join(h.stateDir, "token.read"), `${randomBytes(32).toString("hex")}\n`) });
    assert.equal((await withCookie(read)).status, 401, "a read session of the old read token");
    assert.equal((await withCookie(admin)).status, 200, "the admin session");
    const newRead = await signIn(h.daemon.readToken);
    // A new admin token: the admin session dies, the read one (of a read token that did not change) lives.
    await h.restartDaemon({ beforeStart: () => writeFileSync(join(h.stateDir, "token"), `${randomBytes(32).toString("hex")}\n`) });
    assert.equal((await withCookie(admin)).status, 401, "an admin session of the old admin token");
    assert.equal((await withCookie(newRead)).status, 200, "the read session");
    await h.page.goto(`${h.base}/`);
    assert.match(
      (await h.page.locator("main").textContent()) ?? "",
      /read-only token \(<state dir>\/token\.read\)/,
      "the login form names both tokens",
    );
  });
});
