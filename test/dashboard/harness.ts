// Browser tests of the dashboard: a real daemon (in this process) with real
// processes, and Debian's chromium driven by playwright-core. Everything made
// here — processes, cgroups, the daemon, the browser, temp dirs — is removed by
// `cleanup()`, which the suites call from `after` (so also when a test fails).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import type { ServiceSpec } from "../../src/config/types.js";
import { Daemon, type DaemonOptions } from "../../src/server/daemon.js";
import { IMAGES, processesOfEnvironment, killEnvironment } from "../helpers.js";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const OUTPUT = join(ROOT, "test-output");
const CHROMIUM = process.env.CORRAL_CHROMIUM ?? "/usr/bin/chromium";
/** Bounds on waits: they keep a broken test from hanging, they are not timing assertions. */
export const WAIT_MS = 30_000;

export function requireChromiumAndBundle(): void {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  assert.ok(existsSync(join(ROOT, "dist", "web", "index.html")), "the dashboard is not built: npm run build:web (npm test builds it)");
}

/** Services with real processes from test/fixtures/images. */
export const SERVICES: Record<string, ServiceSpec> = {
  web: {
    command: join(IMAGES, "server.mjs"),
    args: ["%P:http", "%I"],
    ports: [{ name: "http", tcpPerProcess: true }],
    scale: 2,
    env: { GREETING: "dash" },
    labels: { tier: "front", team: "web" },
    readiness: { socket: "http", periodMs: 50 },
    dependsOn: {},
  },
  // A back-off long enough that "offline" stays on the screen while the browser looks.
  worker: {
    command: join(IMAGES, "sleeper"),
    args: [],
    ports: [],
    scale: 1,
    env: {},
    labels: { tier: "back" },
    restartBackoff: { initialMs: 1500, maxMs: 1500, jitter: 0 },
    dependsOn: {},
  },
  ticker: { command: join(IMAGES, "ticker"), args: [], ports: [], scale: 1, env: {}, labels: {}, dependsOn: {} },
};

export interface Harness {
  environment: string;
  stateDir: string;
  daemon: Daemon;
  base: string;
  context: BrowserContext;
  page: Page;
  /** Starts the daemon again on the same state dir (and TCP port, unless `tcp: false`): processes are adopted. */
  restartDaemon(options?: { tcp?: boolean; beforeStart?: () => void }): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startHarness(
  name: string,
  options: { services?: Record<string, ServiceSpec>; daemon?: Partial<DaemonOptions>; tcp?: boolean } = {},
): Promise<Harness> {
  requireChromiumAndBundle();
  mkdirSync(OUTPUT, { recursive: true });
  const environment = `dash-${name}-${randomBytes(3).toString("hex")}`;
  const stateDir = realpathSync(mkdtempSync(join(tmpdir(), "corral-dash-")));
  const userDataDir = mkdtempSync(join(tmpdir(), "corral-chromium-"));
  const daemons: Daemon[] = [];
  let context: BrowserContext | undefined;
  const cleanup = async () => {
    await context?.close().catch(() => {});
    for (const d of daemons) await d.shutdown({ stopServices: true }).catch(() => {});
    killEnvironment(environment);
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(userDataDir, { recursive: true, force: true });
  };
  try {
    const tcp = options.tcp === false ? {} : { tcp: { host: "127.0.0.1", port: 0 } };
    const daemon = await Daemon.start({ stateDir, environment, ...tcp, ...options.daemon });
    daemons.push(daemon);
    const services = options.services ?? SERVICES;
    if (Object.keys(services).length > 0) await daemon.apply({ environment, namespace: "default", services });
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
      viewport: { width: 1440, height: 900 },
      colorScheme: "light",
    });
    context.setDefaultTimeout(WAIT_MS);
    const page = context.pages()[0] ?? (await context.newPage());
    const harness: Harness = {
      environment,
      stateDir,
      daemon,
      base: daemon.tcpAddress ? `http://${daemon.tcpAddress}` : "",
      context,
      page,
      async restartDaemon({ tcp = true, beforeStart } = {}) {
        const port = Number(harness.daemon.tcpAddress?.split(":").pop());
        await harness.daemon.shutdown();
        beforeStart?.();
        const next = await Daemon.start({ stateDir, environment, ...(tcp ? { tcp: { host: "127.0.0.1", port } } : {}), ...options.daemon });
        daemons.push(next);
        harness.daemon = next;
      },
      cleanup,
    };
    return harness;
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** PIDs of live processes of one service of the environment, from /proc. */
export function processesOfService(environment: string, service: string): number[] {
  const needle = `CORRAL_SERVICE_ID=${service}\0`;
  return processesOfEnvironment(environment).filter((pid) => {
    try {
      // A shell's short-lived children (the ticker's `sleep`) inherit the environment: count only the supervised ones.
      return readFileSync(`/proc/${pid}/environ`, "latin1").includes(needle) && isSupervised(pid, environment);
    } catch {
      return false;
    }
  });
}

/** A process whose parent is not itself one of the environment's processes. */
function isSupervised(pid: number, environment: string): boolean {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  try {
    return !readFileSync(`/proc/${ppid}/environ`, "latin1").includes(`CORRAL_ENVIRONMENT_ID=${environment}\0`);
  } catch {
    return true;
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(OUTPUT, `dashboard-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The row of one process in the services table. */
export const row = (id: string, status?: "online" | "offline") => `tr[data-process="${id}"]${status ? `[data-status="${status}"]` : ""}`;
