// The dashboard in a browser against a real daemon with real processes: the
// table, live status, scaling, logs, secrets, dropping, and a daemon restart.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DaemonClient } from "../../src/cli/client.js";
import type { ServiceSpec } from "../../src/config/types.js";
import { selectLauncher } from "../../src/process/launch/select.js";
import { IMAGES, isPidAlive, until } from "../helpers.js";
import { type Harness, processesOfService, row, screenshot, startHarness, WAIT_MS } from "./harness.js";
import { secretIdsBody } from "../../src/server/wire.js";

const cgroupsUsable = await selectLauncher("cgroup").then(
  () => true,
  () => false,
);

// The callbacks of page.evaluate run in the browser; the test program has no DOM types, so the few names they use:
interface PageElement {
  textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  querySelectorAll(selector: string): Iterable<PageElement> & { length: number };
  querySelector(selector: string): PageElement | null;
  activeElement: PageElement | null;
};
declare const window: Record<string, unknown>;

/** node:http, since fetch will not send a Host header of our choosing. */
function statusOf(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on("error", reject)
      .end();
  });
}

describe("the dashboard against a real daemon", { timeout: 300_000 }, () => {
  let h: Harness;
  const pidOf = async (id: string) => Number(await h.page.locator(`${row(id)} [data-field="pid"]`).textContent());

  before(async () => {
    h = await startHarness("main");
  });
  after(async () => {
    await h?.cleanup();
  });

  it("refuses the page without the token and signs in with it", async () => {
    const refused = await h.page.goto(`${h.base}/`);
    assert.equal(refused?.status(), 401);
    assert.equal(await h.page.locator("#app").count(), 0, "no dashboard without a session");
    await h.page.locator('input[name="token"]').waitFor();
    await screenshot(h.page, "login");

    const wrong = await h.page.goto(`${h.base}/?token=not-the-token`);
    assert.equal(wrong?.status(), 401);

    const signedIn = await h.page.goto(`${h.base}/?token=${h.daemon.token}`);
    assert.equal(signedIn?.status(), 200);
    assert.equal(new URL(h.page.url()).search, "", "the token leaves the address bar");
    const [cookie] = await h.context.cookies(h.base);
    assert.ok(cookie, "a session cookie");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Strict");
    assert.equal(cookie.value.includes(h.daemon.token), false, "the cookie is not the token");
    await h.page.locator('[data-connection="live"]').waitFor();
  });

  it("shows every process online, with PID, addresses, labels and metrics", async () => {
    for (const id of ["web-0", "web-1", "worker-0", "ticker-0"]) await h.page.locator(row(id, "online")).waitFor();
    const rows = h.page.locator("tr[data-process]");
    assert.equal(await rows.count(), 4);
    for (const id of ["web-0", "web-1", "worker-0", "ticker-0"]) {
      const pid = await pidOf(id);
      assert.ok(isPidAlive(pid), `${id}: the page shows a live PID (${pid})`);
      assert.match((await h.page.locator(row(id)).locator(".status").textContent()) ?? "", /online/, "a word beside the colour");
    }
    const web0 = h.page.locator(row("web-0"));
    assert.match((await web0.locator("code.tcp").textContent()) ?? "", /^127\.0\.0\.1:\d+$/, "the TCP proxy address");
    assert.match((await web0.locator("code.unix").getAttribute("title")) ?? "", /http-0$/, "the Unix socket");
    assert.match((await h.page.locator('tbody[data-service="web"] .labels').textContent()) ?? "", /tier=front/);
    // Metrics come with the next reading of the whole table; a chart is drawn per process.
    await h.page.waitForFunction(() =>
      [...document.querySelectorAll('tr[data-process="web-0"] .metric-value')].every((e) => e.textContent !== "–"),
    );
    await h.page
      .locator(`${row("web-0")} .spark canvas`)
      .first()
      .waitFor();
  });

  it("shows a process killed with SIGKILL offline, then online again, without a reload", async () => {
    await h.page.evaluate(() => (window.marker = "same page"));
    const pid = await pidOf("worker-0");
    process.kill(pid, "SIGKILL");
    const offline = h.page.locator(row("worker-0", "offline"));
    await offline.waitFor();
    assert.match((await offline.locator(".status").textContent()) ?? "", /offline/);
    await screenshot(h.page, "services-offline");
    await h.page.locator(row("worker-0", "online")).waitFor();
    const next = await pidOf("worker-0");
    assert.notEqual(next, pid, "a new process");
    assert.ok(isPidAlive(next));
    assert.equal(await h.page.locator(`${row("worker-0")} [data-field="restarts"]`).textContent(), "1");
    assert.equal(await h.page.evaluate(() => window.marker), "same page", "no reload");
  });

  it("scales a service from its page, changing the processes on the machine", async () => {
    await h.page.locator('tbody[data-service="worker"] a.service-name').click();
    await h.page.locator('[data-service-page="worker"]').waitFor();
    // The kill before shows on the timeline, with its reason and the back-off deadline.
    await h.page.locator('[data-timeline] [data-event-reason="crashed"], [data-timeline] [data-event-reason="backoff"]').first().waitFor();
    assert.equal(processesOfService(h.environment, "worker").length, 1);
    await h.page.locator("#scale-input").fill("3");
    await h.page.locator('[data-action="scale"]').click();
    await h.page.locator('[role="status"]', { hasText: "Scaled worker to 3" }).waitFor();
    for (const id of ["worker-0", "worker-1", "worker-2"]) await h.page.locator(row(id, "online")).waitFor();
    await until(() => processesOfService(h.environment, "worker").length === 3, "three worker processes in /proc", WAIT_MS);
    assert.equal(h.daemon.state?.services.worker?.scale, 3);
    await screenshot(h.page, "service");

    // The keyboard alone: Enter in the field submits.
    await h.page.locator("#scale-input").fill("1");
    await h.page.locator("#scale-input").press("Enter");
    await h.page.locator('[role="status"]', { hasText: "Scaled worker to 1" }).waitFor();
    await h.page.locator(row("worker-2")).waitFor({ state: "detached" });
    await until(() => processesOfService(h.environment, "worker").length === 1, "one worker process in /proc", WAIT_MS);
  });

  it(
    "highlights an OOM kill on the service's timeline",
    { skip: cgroupsUsable ? false : "cgroups are not writable here (needs root)" },
    async () => {
      const client = new DaemonClient({ socketPath: join(h.stateDir, "corral.sock") });
      // Killed over its limit, then a long back-off: the deadline stays on the screen.
      const hog: ServiceSpec = {
        command: join(IMAGES, "memory-hog.mjs"),
        args: [],
        ports: [],
        scale: 1,
        memory: "96MiB",
        env: {},
        labels: {},
        restartBackoff: { initialMs: 60_000, maxMs: 60_000, jitter: 0 },
        dependsOn: {},
      };
      await client.call("PUT", "/v1/services/hog", hog);
      await h.page.goto(`${h.base}/#/services/hog`);
      const oom = h.page.locator('[data-timeline] [data-event-reason="oom-killed"]');
      await oom.waitFor();
      assert.match((await oom.textContent()) ?? "", /OOM-killed/);
      assert.match((await oom.getAttribute("class")) ?? "", /event-oom/, "highlighted");
      await h.page.locator('[data-timeline] [data-event-reason="backoff"] .deadline').waitFor();
      await h.page.locator(row("hog-0", "offline"), { hasText: "after OOM-killed" }).waitFor();
      await h.page.locator("[data-config]", { hasText: "memory: 96MiB" }).waitFor();
      assert.equal(await h.page.locator("#scale-input").inputValue(), "1");
      await screenshot(h.page, "service-oom");
      await client.call("DELETE", "/v1/services/hog");
      await until(() => processesOfService(h.environment, "hog").length === 0, "the hog gone", WAIT_MS);
    },
  );

  it("follows a service's logs and searches the loaded lines", async () => {
    await h.page.goto(`${h.base}/#/services/ticker/logs`);
    await h.page.locator('[data-log-state="following"]').waitFor();
    const lastTick = () =>
      h.page.evaluate(() => {
        const ticks = [...document.querySelectorAll("[data-line] .text")]
          .map((e) => /^tick (\d+)$/.exec(e.textContent ?? "")?.[1])
          .filter(Boolean);
        return ticks.length ? Number(ticks[ticks.length - 1]) : -1;
      });
    await h.page.waitForFunction(() => document.querySelectorAll("[data-line]").length > 0);
    const first = await lastTick();
    // New lines arrive on the open stream (the ticker prints every 50 ms).
    await h.page.waitForFunction((n) => {
      const ticks = [...document.querySelectorAll("[data-line] .text")].map((e) =>
        Number(/^tick (\d+)$/.exec(e.textContent ?? "")?.[1] ?? -1),
      );
      return Math.max(...ticks) >= n + 5;
    }, first);
    assert.ok((await lastTick()) > first);
    await screenshot(h.page, "logs");
    await h.page.locator('[data-control="search"]').fill("tock");
    await h.page.waitForFunction(() => {
      const lines = [...document.querySelectorAll("[data-line] .text")];
      return lines.length > 0 && lines.every((e) => e.textContent?.includes("tock"));
    });
    assert.ok((await h.page.locator("[data-line] mark").count()) > 0, "matches are highlighted");
    await screenshot(h.page, "logs-search");
    await h.page.locator('[data-control="search"]').fill("");
  });

  it("pauses following when you scroll up, and jumps back to the latest", async () => {
    await h.page.waitForFunction(() => document.querySelectorAll("[data-line]").length > 60);
    await h.page.locator("[data-log-lines]").evaluate((el) => (el.scrollTop = 0));
    const jump = h.page.locator('[data-action="jump"]');
    await jump.waitFor();
    await h.page.waitForFunction(() => /new line/.test(document.querySelector('[data-action="jump"]')?.textContent ?? ""));
    assert.equal(await h.page.locator("[data-log-lines]").evaluate((el) => el.scrollTop), 0, "the view stays where you scrolled");
    await jump.click();
    await jump.waitFor({ state: "detached" });
  });

  it("sets, lists and deletes secrets without ever showing a value", async () => {
    await h.page.goto(`${h.base}/#/secrets`);
    await h.page.locator('[data-control="secret-name"]').fill("db-password");
    await h.page.locator('[data-control="secret-value"]').fill("hunter2-very-secret");
    await h.page.locator('[data-action="set-secret"]').click();
    await h.page.locator('tr[data-secret="db-password"]').waitFor();
    const client = new DaemonClient({ socketPath: join(h.stateDir, "corral.sock") });
    assert.deepEqual(await client.get("/v1/secrets", secretIdsBody), ["db-password"]);
    assert.equal(readFileSync(join(h.stateDir, "secrets", "db-password"), "utf8"), "hunter2-very-secret", "stored as typed");
    assert.equal((await h.page.content()).includes("hunter2"), false, "the value is nowhere on the page");
    assert.equal(await h.page.locator('[data-control="secret-value"]').inputValue(), "", "the field is cleared");
    await screenshot(h.page, "secrets");
    await h.page.locator('tr[data-secret="db-password"] button').click();
    await h.page.locator("dialog[open] [data-confirm]").click();
    await h.page.locator('tr[data-secret="db-password"]').waitFor({ state: "detached" });
    assert.deepEqual(await client.get("/v1/secrets", secretIdsBody), []);
  });

  it("refuses state changes that ride on the cookie without the CSRF header", async () => {
    const status = await h.page.evaluate(
      async () =>
        (await fetch("/v1/services/ticker/restart", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }))
          .status,
    );
    assert.equal(status, 403);
    const cookie = (await h.context.cookies(h.base)).map((c) => `${c.name}=${c.value}`).join("; ");
    const csrf = await h.page.locator('meta[name="corral-csrf"]').getAttribute("content");
    const crossSite = await fetch(`${h.base}/v1/services/ticker/restart`, {
      method: "POST",
      headers: { cookie, origin: "http://evil.example", "x-corral-csrf": csrf!, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(crossSite.status, 403, "another origin is refused even with the header");
    const wrongBearer = await fetch(`${h.base}/v1/services/ticker/restart`, {
      method: "POST",
      headers: { cookie, authorization: "Bearer nope", "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(wrongBearer.status, 403, "a wrong bearer header does not stand in for the CSRF header");
    assert.equal(
      await statusOf(`${h.base}/v1/processes`, { cookie, host: "rebound.example:80" }),
      403,
      "a DNS-rebound host name is refused",
    );
    const read = await fetch(`${h.base}/v1/processes`, { headers: { cookie } });
    assert.equal(read.status, 200, "reads ride on the cookie");
  });

  it("reconnects by itself when the daemon restarts", async () => {
    await h.page.goto(`${h.base}/#/`);
    await h.page.locator('[data-connection="live"]').waitFor();
    // A few readings of CPU and memory, so the charts have lines to show.
    await h.page.waitForFunction(() =>
      [...document.querySelectorAll("tr[data-process]")].every((e) => Number(e.getAttribute("data-samples")) >= 3),
    );
    await screenshot(h.page, "services");
    const pid = await pidOf("web-0");
    await h.page.evaluate(() => (window.marker = "before restart"));
    const snapshots = Number(await h.page.locator("[data-connection]").getAttribute("data-snapshots"));
    await h.restartDaemon();
    // The page notices the stream ended, retries, and takes the new daemon's snapshot.
    await h.page.waitForFunction((n) => Number(document.querySelector("[data-connection]")?.getAttribute("data-snapshots")) > n, snapshots);
    await h.page.locator('[data-connection="live"]').waitFor();
    await h.page.locator(row("web-0", "online")).waitFor();
    assert.equal(await pidOf("web-0"), pid, "the same process, adopted by the new daemon");
    assert.equal(await h.page.evaluate(() => window.marker), "before restart", "no reload");
    // And it still acts: a rolling restart from the page after the daemon's restart.
    await h.page.locator('tbody[data-service="web"] a.service-name').click();
    await h.page.locator('[data-action="restart"]').click();
    await h.page.locator("dialog[open] [data-confirm]").click();
    await h.page.locator('[role="status"]', { hasText: "Restarted every process of web" }).waitFor({ timeout: 60_000 });
    assert.notEqual(await pidOf("web-0"), pid, "replaced by the rolling restart");
  });

  it("drops a service after confirmation", async () => {
    await h.page.goto(`${h.base}/#/services/ticker`);
    await h.page.locator('[data-action="drop"]').focus();
    await h.page.keyboard.press("Enter");
    await h.page.locator("dialog[open]").waitFor();
    assert.equal(
      await h.page.evaluate(() => document.activeElement?.textContent),
      "Cancel",
      "focus moves into the dialog, on the safe choice",
    );
    await h.page.keyboard.press("Escape");
    await h.page.locator("dialog[open]").waitFor({ state: "detached" });
    assert.ok(h.daemon.state?.services.ticker, "cancelled: still there");
    await h.page.locator('[data-action="drop"]').click();
    await h.page.locator("dialog[open] [data-confirm]").click();
    await h.page.waitForURL(/#\/$/);
    await h.page.locator('tbody[data-service="ticker"]').waitFor({ state: "detached" });
    assert.equal(h.daemon.state?.services.ticker, undefined);
    await until(() => processesOfService(h.environment, "ticker").length === 0, "no ticker process left", WAIT_MS);
  });
});
