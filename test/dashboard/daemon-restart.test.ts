// The dashboard as a user meets it: a daemon started by the real `corral up -d`,
// the page opened with `corral dashboard`'s link in Debian's chromium. The
// daemon is SIGKILLed and started again with `corral up -d`: the page shows it
// is disconnected (data greyed, clocks stopped, actions off) and reconnects by
// itself. Also: the events after a reload, a crash loop in red, a completed job
// neutral, per-process kill and restart, masked env, the log search over the
// daemon's history, and screenshots at 1400, 800 and 400 px whose narrow
// layouts must show the status and memory of every process.
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { IMAGES, isPidAlive, killEnvironment, until } from "../helpers.js";
import { OUTPUT, ROOT, WAIT_MS, requireChromiumAndBundle, row } from "./harness.js";

const BIN = join(ROOT, "bin", "corral.js");
const CHROMIUM = process.env.CORRAL_CHROMIUM ?? "/usr/bin/chromium";
const ENV_VALUE = "hunter2-typed-into-the-file";

// The callbacks of page.evaluate run in the browser; the test program has no DOM types, so the few names they use:
interface PageElement {
  textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  documentElement: { scrollWidth: number };
  querySelectorAll(selector: string): Iterable<PageElement> & { length: number };
  querySelector(selector: string): PageElement | null;
};
declare const window: Record<string, unknown>;

/** One request over the daemon's Unix socket: status and body. */
function overSocket(socketPath: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: body === undefined ? {} : { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe("the dashboard of a daemon run by corral up -d", { timeout: 420_000 }, () => {
  const environment = `dashcli-${process.pid}`;
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "corral-dashcli-")));
  const userDataDir = mkdtempSync(join(tmpdir(), "corral-chromium-"));
  const socket = join(dir, ".corral", "corral.sock");
  const env = { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" };
  const corral = (args: string[]): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: "utf8", timeout: 120_000, env });
  const daemonPid = (): number | undefined => {
    try {
      return (JSON.parse(readFileSync(join(dir, ".corral", "daemon.json"), "utf8")) as { pid: number }).pid;
    } catch {
      return undefined; // no daemon record: none runs
    }
  };
  let context: BrowserContext | undefined;
  let page: Page;
  const pidOf = async (id: string) => Number(await page.locator(`${row(id)} [data-field="pid"]`).textContent());

  before(async () => {
    requireChromiumAndBundle();
    mkdirSync(OUTPUT, { recursive: true });
    writeFileSync(
      join(dir, "corral.yaml"),
      `environment: ${environment}
services:
  web:
    command: ${join(IMAGES, "server.mjs")}
    args: ["%P:http", "%I"]
    ports: [{ name: http, tcpPerProcess: true }]
    scale: 2
    readiness: { socket: http, periodMs: 50 }
    env:
      GREETING: ${ENV_VALUE}
    labels: { tier: front }
  migrate:
    command: sh
    args: ["-c", "echo migrated"]
    restart: never
  flaky:
    command: sh
    args: ["-c", "echo starting; sleep 0.2; echo 'fatal: cannot parse flaky.conf' >&2; exit 1"]
    restartBackoff: { initialMs: 200, maxMs: 3000, jitter: 0 }
  chatty:
    command: sh
    args: ["-c", "echo needle-from-long-ago; i=0; while [ $$i -lt 3000 ]; do echo filler line $$i; i=$$((i+1)); done; exec sleep 3600"]
`,
    );
    // flaky crash-loops, so up -d says so (exit 1); the daemon keeps running the rest.
    const up = corral(["up", "-d", "--timeout", "300"]);
    assert.equal(up.signal, null, up.stderr);
    assert.match(up.stderr, /flaky-0 is crash-looping/);
    assert.ok(isPidAlive(daemonPid()!), "the daemon runs");
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
      viewport: { width: 1400, height: 900 },
      colorScheme: "light",
    });
    context.setDefaultTimeout(WAIT_MS);
    page = context.pages()[0] ?? (await context.newPage());
  });

  after(async () => {
    await context?.close().catch(() => {});
    if (existsSync(socket)) corral(["down"]);
    const pid = daemonPid();
    if (pid !== undefined && isPidAlive(pid)) process.kill(pid, "SIGKILL");
    killEnvironment(environment);
    rmSync(dir, { recursive: true, force: true });
    rmSync(userDataDir, { recursive: true, force: true });
  });

  it("signs in with corral dashboard's link and shows a completed job neutral, a crash loop red", async () => {
    const link = corral(["dashboard", "--no-open"]);
    assert.equal(link.status, 0, link.stderr);
    const url = /^(http:\/\/\S+\/login\?ticket=\S+)$/m.exec(link.stdout)?.[1];
    assert.ok(url, link.stdout);
    await page.goto(url);
    await page.locator('[data-connection="live"]').waitFor();
    for (const id of ["web-0", "web-1", "chatty-0"]) await page.locator(row(id, "online")).waitFor();

    const job = page.locator(row("migrate-0"));
    await job.locator('[data-kind="done"]').waitFor();
    assert.equal((await job.locator(".status").textContent())?.trim().endsWith("completed"), true);
    assert.equal(await job.getAttribute("data-kind"), "done", "neutral, not offline");
    assert.match((await page.locator('tbody[data-service="migrate"] [data-count]').textContent()) ?? "", /^1 completed$/);
    assert.match((await page.locator("[data-summary-done]").textContent()) ?? "", /1 completed/);

    const flaky = page.locator(row("flaky-0"));
    await page.locator(`${row("flaky-0")}[data-kind="failing"]`).waitFor();
    assert.match((await flaky.locator(".status").textContent()) ?? "", /crash loop · \d+ crashes in 5 min/);
    await page.locator(`${row("flaky-0")} .status`, { hasText: "next start" }).waitFor();
    assert.match((await flaky.locator(".restarts-growing").textContent()) ?? "", /\+\d+/, "the growing restart count is highlighted");
    assert.match((await page.locator('tbody[data-service="flaky"] [data-count]').textContent()) ?? "", /1 failing/);
    assert.match((await page.locator("[data-summary-offline]").textContent()) ?? "", /0 offline/, "the job is not counted offline");
    assert.match((await page.locator("[data-summary]").textContent()) ?? "", /4 services/);
    const tcp = page.locator(`${row("web-0")} a.tcp`);
    assert.match((await tcp.getAttribute("href")) ?? "", /^http:\/\/127\.0\.0\.1:\d+\/$/, "TCP addresses are links");
  });

  it("lays the processes out at 1400, 800 and 400 px, status and memory of each in view", async () => {
    await page.waitForFunction(() =>
      [...document.querySelectorAll('tr[data-process^="web-"] [data-field="memory"] .metric-value')].every((e) => e.textContent !== "–"),
    );
    const ids = ["chatty-0", "flaky-0", "migrate-0", "web-0", "web-1"];
    const written: string[] = [];
    for (const width of [1400, 800, 400]) {
      await page.setViewportSize({ width, height: 900 });
      for (const id of ids) {
        // Wide, the whole row fits (nothing to scroll sideways for); narrow, a card shows status and memory first.
        const parts =
          width === 1400
            ? [".status", '[data-field="memory"]', ".proc-addresses", '[data-action="kill"]']
            : [".status", '[data-field="memory"]'];
        for (const part of parts) {
          const element = page.locator(`${row(id)} ${part}`);
          await element.scrollIntoViewIfNeeded();
          assert.ok(await element.isVisible(), `${id} ${part} visible at ${width} px`);
          const box = await element.boundingBox();
          assert.ok(box, `${id} ${part} has a box at ${width} px`);
          assert.ok(
            box.x >= 0 && box.x + box.width <= width,
            `${id} ${part} inside the ${width} px viewport (x ${box.x}, width ${box.width})`,
          );
        }
      }
      assert.ok(
        await page.evaluate((w) => document.documentElement.scrollWidth <= w, width),
        `the services page needs no sideways scrolling at ${width} px`,
      );
      const path = join(OUTPUT, `dashboard-services-${width}.png`);
      await page.screenshot({ path, fullPage: true });
      written.push(path);
    }
    await page.goto(`${new URL(page.url()).origin}/#/services/web`);
    await page.locator("[data-charts-of=web-0] [data-chart-value]").first().waitFor();
    for (const width of [1400, 800, 400]) {
      await page.setViewportSize({ width, height: 900 });
      assert.ok(
        await page.evaluate((w) => document.documentElement.scrollWidth <= w, width),
        `the service page needs no sideways scrolling at ${width} px`,
      );
      const path = join(OUTPUT, `dashboard-service-${width}.png`);
      await page.screenshot({ path, fullPage: true });
      written.push(path);
    }
    process.stdout.write(`# screenshots: ${written.join(" ")}\n`);
    await page.setViewportSize({ width: 1400, height: 900 });
  });

  it("shows the configuration as written, env values masked by the daemon itself", async () => {
    await page.locator("[data-config]", { hasText: "GREETING: ••••••" }).waitFor();
    const config = (await page.locator("[data-config]").textContent()) ?? "";
    assert.doesNotMatch(config, /dependsOn|args: \[\]/, "no empty fields the schema filled in");
    assert.equal((await page.content()).includes(ENV_VALUE), false, "the value is nowhere on the page");
    const masked = await page.evaluate(async () => (await fetch("/v1/services?mask=env")).text());
    assert.equal(masked.includes(ENV_VALUE), false);
    const bad = await overSocket(socket, "GET", "/v1/services?mask=everything");
    assert.equal(bad.status, 400, bad.text);
  });

  it("kills and restarts one process from the page, after a confirmation for the kill", async () => {
    const pid = await pidOf("web-1");
    await page.locator(`${row("web-1")} [data-action="kill"]`).click();
    await page.locator("dialog[open]", { hasText: "Kill web-1?" }).waitFor();
    assert.ok(isPidAlive(pid), "nothing killed before the confirmation");
    await page.locator("dialog[open] [data-confirm]").click();
    await until(() => !isPidAlive(pid), "web-1 killed", WAIT_MS);
    await page.waitForFunction((old) => {
      const pidText = document.querySelector('tr[data-process="web-1"][data-status="online"] [data-field="pid"]')?.textContent;
      return pidText !== undefined && pidText !== null && pidText !== "–" && Number(pidText) !== old;
    }, pid);

    const before0 = await pidOf("web-0");
    await page.locator(`${row("web-0")} [data-action="restart-process"]`).click();
    await page.locator(`${row("web-0")} [role="status"]`, { hasText: "Restarted web-0" }).waitFor();
    assert.equal(isPidAlive(before0), false, "the old process is gone");
    await page.locator(row("web-0", "online")).waitFor();
    assert.notEqual(await pidOf("web-0"), before0);

    // Bad requests are 4xx, never 5xx.
    for (const [path, body, status] of [
      ["/v1/services/web/processes/7/kill", {}, 400],
      ["/v1/services/web/processes/x/kill", {}, 400],
      ["/v1/services/web/processes/0/kill", { signal: "SIGNOPE" }, 400],
      ["/v1/services/nope/processes/0/kill", {}, 404],
      ["/v1/services/migrate/processes/0/kill", {}, 409],
      ["/v1/services/web/processes/9/restart", {}, 400],
    ] as const) {
      const answer = await overSocket(socket, "POST", path, body);
      assert.equal(answer.status, status, `${path} ${JSON.stringify(body)}: ${answer.text}`);
    }
  });

  it("shows what happened before a reload: events and charts from the daemon's history", async () => {
    const killed = await pidOf("web-1");
    process.kill(killed, "SIGKILL");
    await page.locator(`[data-timeline] [data-event-reason="crashed"]`, { hasText: "web-1" }).first().waitFor();
    await page.reload();
    await page.locator('[data-connection="live"]').waitFor();
    const events = page.locator("[data-timeline] li", { hasText: `pid ${killed}` });
    await events.first().waitFor();
    assert.ok((await events.count()) >= 1, "the killed process's events are listed after the reload");
    await page.locator('[data-timeline] [data-event-reason="crashed"]', { hasText: "web-1" }).first().waitFor();
    // The charts start from the daemon's samples, not from empty.
    await page.waitForFunction(() => Number(document.querySelector('tr[data-process="web-0"]')?.getAttribute("data-samples")) >= 2);
  });

  it("searches a service's logs in the daemon's history, beyond the lines loaded", async () => {
    await page.goto(`${new URL(page.url()).origin}/#/services/chatty/logs`);
    await page.locator("[data-line]", { hasText: "filler line 2999" }).waitFor();
    assert.equal(await page.locator("[data-line]", { hasText: "needle-from-long-ago" }).count(), 0, "not among the last 100 lines");
    await page.locator('[data-control="search"]').fill("needle-from");
    await page.locator("[data-line]", { hasText: "needle-from-long-ago" }).waitFor();
    assert.equal(await page.locator("[data-line]").count(), 1);
    await page.locator('[data-control="search"]').fill("");
  });

  it("greys the page and disables actions while the daemon is gone, and reconnects after corral up -d by itself", async () => {
    await page.goto(`${new URL(page.url()).origin}/#/`);
    await page.locator('[data-connection="live"]').waitFor();
    await page.locator(row("web-0", "online")).waitFor();
    await page.evaluate(() => (window.marker = "before the daemon died"));
    const web0 = await pidOf("web-0");
    const first = daemonPid()!;
    process.kill(first, "SIGKILL");
    await until(() => !isPidAlive(first), "the daemon gone", WAIT_MS);

    await page.locator("[data-disconnected]", { hasText: "Reconnecting…" }).waitFor();
    assert.equal(await page.locator("main").getAttribute("data-stale"), "true");
    assert.equal(await page.locator(`${row("web-0")} [data-action="kill"]`).isDisabled(), true, "kill is disabled");
    assert.equal(await page.locator(`${row("web-0")} [data-action="restart-process"]`).isDisabled(), true, "restart is disabled");
    const uptime = await page.locator(`${row("web-0")} [data-field="uptime"]`).textContent();
    const since = await page.evaluate(() => Date.now());
    await page.waitForFunction((t) => Date.now() > t + 2500, since);
    assert.equal(await page.locator(`${row("web-0")} [data-field="uptime"]`).textContent(), uptime, "the uptime clock stopped");
    await page.screenshot({ path: join(OUTPUT, "dashboard-disconnected.png"), fullPage: true });

    const up = corral(["up", "-d", "--timeout", "300"]);
    assert.equal(up.signal, null, up.stderr);
    const second = daemonPid();
    assert.ok(second !== undefined && second !== first && isPidAlive(second), "a new daemon");
    await page.locator('[data-connection="live"]').waitFor();
    await page.locator("[data-disconnected]").waitFor({ state: "detached" });
    assert.equal(await page.locator("main").getAttribute("data-stale"), "false");
    assert.equal(await page.evaluate(() => window.marker), "before the daemon died", "no reload, no user action");
    await page.locator(row("web-0", "online")).waitFor();
    assert.equal(await pidOf("web-0"), web0, "the same process, adopted by the new daemon");
    assert.equal(await page.locator(`${row("web-0")} [data-action="kill"]`).isDisabled(), false, "actions are back");
  });
});
