// Who gets the dashboard: `corral dashboard` and its one-time link, the token
// and the login form, --no-auth on loopback, and never over the Unix socket.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DaemonClient } from "../../src/cli/client.js";
import { type Harness, ROOT, row, SERVICES, startHarness, WAIT_MS } from "./harness.js";

// page.waitForFunction's callback runs in the browser; the test program has no DOM types.
declare const document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };

/** `corral dashboard` from the sources (the daemon runs in this process). */
function corralDashboard(stateDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(ROOT, "src", "cli", "main.ts"), "dashboard", "--state-dir", stateDir, "--no-open"],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: "1", DISPLAY: "" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const bound = setTimeout(() => child.kill("SIGKILL"), WAIT_MS * 2);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(bound);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("corral dashboard", { timeout: 180_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness("cli", { tcp: false, services: { worker: SERVICES.worker! } });
  });
  after(async () => {
    await h?.cleanup();
  });

  it("opens a TCP listener on 127.0.0.1 and prints a link that signs in once", async () => {
    assert.equal(h.daemon.tcpAddress, null, "no TCP listener to begin with");
    const result = await corralDashboard(h.stateDir);
    assert.equal(result.code, 0, result.stderr);
    const url = /^(http:\/\/127\.0\.0\.1:\d+\/login\?ticket=[\w-]+)$/m.exec(result.stdout)?.[1];
    assert.ok(url, `a login link in:\n${result.stdout}`);
    assert.equal(`127.0.0.1:${new URL(url).port}`, h.daemon.tcpAddress);
    assert.equal(result.stdout.includes(h.daemon.token), false, "the link carries a ticket, not the token");

    const response = await h.page.goto(url);
    assert.equal(response?.status(), 200);
    assert.equal(new URL(h.page.url()).pathname, "/");
    await h.page.locator(row("worker-0", "online")).waitFor();

    // The same link again, without the session: used up.
    await h.context.clearCookies();
    const again = await h.page.goto(url);
    assert.equal(again?.status(), 401);
    assert.match((await h.page.locator(".error").textContent()) ?? "", /used up or expired/);
  });

  it("prints a fresh link for the listener that is already there", async () => {
    const before = h.daemon.tcpAddress;
    const result = await corralDashboard(h.stateDir);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`http://${before!.replace(/\./g, "\\.")}/login\\?ticket=`));
    assert.equal(h.daemon.tcpAddress, before);
  });

  it("opens the same port again when the daemon restarts, so an open page finds it by itself", async () => {
    const port = new URL(`http://${h.daemon.tcpAddress}`).port;
    assert.deepEqual(JSON.parse(readFileSync(join(h.stateDir, "dashboard.json"), "utf8")), { port: Number(port) });
    await h.page.goto(`http://${h.daemon.tcpAddress}/?token=${h.daemon.token}`);
    await h.page.locator('[data-connection="live"]').waitFor();
    const snapshots = Number(await h.page.locator("[data-connection]").getAttribute("data-snapshots"));
    await h.restartDaemon({ tcp: false });
    // No `corral dashboard` needed: the new daemon listens on the remembered port as it starts.
    assert.equal(h.daemon.tcpAddress, `127.0.0.1:${port}`);
    // The page left open reconnects with its cookie: the session is signed with the daemon's token, which did not change.
    await h.page.waitForFunction((n) => Number(document.querySelector("[data-connection]")?.getAttribute("data-snapshots")) > n, snapshots);
    await h.page.locator('[data-connection="live"]').waitFor();
    await h.page.locator(row("worker-0", "online")).waitFor();
    const result = await corralDashboard(h.stateDir);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(h.daemon.tcpAddress, `127.0.0.1:${port}`, "the link is for the listener already open");
  });

  it("signs in with the token through the login form", async () => {
    await h.context.clearCookies();
    const base = `http://${h.daemon.tcpAddress}`;
    await h.page.goto(`${base}/`);
    await h.page.locator('input[name="token"]').fill("wrong");
    await h.page.locator('button[type="submit"]').click();
    await h.page.locator(".error", { hasText: "not this daemon's token" }).waitFor();
    await h.page.locator('input[name="token"]').fill(h.daemon.token);
    await h.page.locator('button[type="submit"]').click();
    await h.page.locator(row("worker-0", "online")).waitFor();
  });

  it("serves nothing of the dashboard without a session, and the API still takes the bearer token", async () => {
    const base = `http://${h.daemon.tcpAddress}`;
    for (const path of ["/assets/app.js", "/assets/app.css", "/v1/processes", "/v1/events", "/healthz"]) {
      assert.equal((await fetch(`${base}${path}`)).status, 401, path);
    }
    assert.equal((await fetch(`${base}/v1/processes`, { headers: { authorization: `Bearer ${h.daemon.token}` } })).status, 200);
    const login = await fetch(`${base}/login`);
    assert.equal(login.status, 401);
    assert.equal((await login.text()).includes("app.js"), false, "the login page gives nothing of the dashboard away");
  });

  it("is not served on the Unix socket, and only the Unix socket mints links", async () => {
    const client = new DaemonClient({ socketPath: join(h.stateDir, "corral.sock") });
    await assert.rejects(client.text("/"), (e: Error & { status?: number }) => e.status === 404);
    const viaTcp = await fetch(`http://${h.daemon.tcpAddress}/v1/dashboard/open`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.daemon.token}`, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(viaTcp.status, 404);
  });
});

describe("the dashboard with --no-auth on loopback", { timeout: 120_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness("noauth", { services: { worker: SERVICES.worker! }, daemon: { noAuth: true } });
  });
  after(async () => {
    await h?.cleanup();
  });

  it("loads without a token", async () => {
    const response = await h.page.goto(`${h.base}/`);
    assert.equal(response?.status(), 200);
    await h.page.locator(row("worker-0", "online")).waitFor();
    await h.page.locator('[data-connection="live"]').waitFor();
  });

  it("still refuses cross-site requests that would change something", async () => {
    // A page on another site can send a "simple" POST without a preflight: the Origin gives it away.
    const shutdown = await fetch(`${h.base}/v1/shutdown`, {
      method: "POST",
      headers: { origin: "http://evil.example", "content-type": "text/plain" },
      body: "{}",
    });
    assert.equal(shutdown.status, 403);
    const scale = await fetch(`${h.base}/v1/services/worker/scale`, {
      method: "POST",
      headers: { "sec-fetch-site": "cross-site", "content-type": "application/json" },
      body: '{"scale":2}',
    });
    assert.equal(scale.status, 403);
    assert.equal(h.daemon.state?.services.worker?.scale, 1);
    // Tools without a browser (no Origin) are what --no-auth is for.
    assert.equal((await fetch(`${h.base}/v1/processes`)).status, 200);
  });
});

describe("the dashboard bundle", () => {
  it("stays under 150 KiB gzip (JS and CSS together) and loads nothing from elsewhere", () => {
    const size = JSON.parse(readFileSync(join(ROOT, "dist", "web", "size.json"), "utf8")) as { totalGzipBytes: number };
    assert.ok(size.totalGzipBytes < 150 * 1024, `${size.totalGzipBytes} bytes gzip`);
    const html = readFileSync(join(ROOT, "dist", "web", "index.html"), "utf8");
    assert.match(html, /src="\/assets\/app\.js\?v=\w+"/);
    assert.match(html, /href="\/assets\/app\.css\?v=\w+"/);
    for (const ref of html.match(/(?:src|href)="([^"]*)"/g) ?? []) assert.match(ref, /^(?:src|href)="(?:\/assets\/|data:)/, ref);
    const css = readFileSync(join(ROOT, "dist", "web", "app.css"), "utf8");
    assert.equal(/url\(\s*["']?https?:/.test(css), false, "no remote fonts or images");
  });
});
