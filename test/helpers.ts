// Shared test plumbing: temp environments that clean up after themselves
// (processes included, even when a test fails), event waiting without sleeps,
// and /proc scans to prove nothing was left behind.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { mkdtemp, rm } from "node:fs/promises";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import type { ServiceEvent } from "../src/contract/types.js";
import { ProcessOrchestrator, type ProcessOrchestratorConfig } from "../src/process/orchestrator.js";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures");
export const IMAGES = join(FIXTURES, "images");

export interface TestEnvironment {
  environmentId: string;
  root: string;
  config: ProcessOrchestratorConfig;
  create(overrides?: Partial<ProcessOrchestratorConfig>): Promise<ProcessOrchestrator>;
  /** Every live process whose environment names this test environment. */
  processes(): number[];
  cleanup(): Promise<void>;
}

export function testEnvironment(name: string): TestEnvironment {
  const environmentId = `t-${name}-${randomBytes(4).toString("hex")}`;
  const root = realpathSync(mkdtempSync(join(tmpdir(), "corral-test-")));
  const config: ProcessOrchestratorConfig = {
    imageDir: IMAGES,
    environmentId,
    scratchDirectory: join(root, "scratch"),
    secretsDir: join(root, "secrets"),
    stateDir: join(root, "state"),
    suppressOutput: true,
    restartBackoff: { initialMs: 20, maxMs: 20, jitter: 0 },
    adoptPollMs: 20,
  };
  const created: ProcessOrchestrator[] = [];
  return {
    environmentId,
    root,
    config,
    async create(overrides = {}) {
      const orchestrator = await ProcessOrchestrator.create({ ...config, ...overrides });
      created.push(orchestrator);
      return orchestrator;
    },
    processes: () => processesOfEnvironment(environmentId),
    async cleanup() {
      await Promise.allSettled(created.map((o) => o.close()));
      killEnvironment(environmentId);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** PIDs of live processes whose environment contains CORRAL_ENVIRONMENT_ID=<id>. */
export function processesOfEnvironment(environmentId: string): number[] {
  const needle = `CORRAL_ENVIRONMENT_ID=${environmentId}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const state = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (/\) [ZX] /.test(state)) continue;
      if (readFileSync(`/proc/${entry}/environ`, "latin1").includes(needle)) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

export function isPidAlive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) [ZX] /.test(state);
  } catch {
    return false;
  }
}

/**
 * Reads events until one matches; the bound only keeps a broken test from
 * hanging forever, it is not a timing assertion.
 */
export async function nextEvent(
  events: AsyncIterator<ServiceEvent>,
  predicate: (event: ServiceEvent) => boolean,
  { boundMs = 30_000, seen }: { boundMs?: number; seen?: ServiceEvent[] } = {},
): Promise<ServiceEvent> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const remaining = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      events.next(),
      new Promise<"bound">((resolve) => (timer = setTimeout(() => resolve("bound"), Math.max(remaining, 0)))),
    ]);
    clearTimeout(timer);
    if (result === "bound") throw new Error(`no matching event within ${boundMs} ms; saw ${JSON.stringify(seen?.slice(-10) ?? [])}`);
    if (result.done) throw new Error("event stream ended before a matching event");
    seen?.push(result.value);
    if (predicate(result.value)) return result.value;
  }
}

/** Waits until `processes` of `serviceId` are all online according to the stream, returning their latest events. */
export async function untilAllOnline(
  events: AsyncIterator<ServiceEvent>,
  serviceId: string,
  count: number,
  boundMs = 60_000,
): Promise<ServiceEvent[]> {
  const latest = new Map<number, ServiceEvent>();
  const online = () => [...latest.values()].filter((e) => e.status === "online").length;
  if (count === 0) return [];
  await nextEvent(
    events,
    (event) => {
      if (event.serviceId === serviceId) latest.set(event.processId, event);
      return online() >= count;
    },
    { boundMs },
  );
  return [...latest.values()].sort((a, b) => a.processId - b.processId);
}

/** Polls a condition that has no event (a file appearing, a process leaving /proc); bounded. */
export async function until<T>(condition: () => T | undefined | null | false, what: string, boundMs = 30_000): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const value = condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${boundMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Safety net for failed tests: kills what is left in this environment's
 * cgroups (processes this test started) and removes the groups.
 */
export function removeCgroupsOf(environmentId: string): void {
  let hierarchies: string[] = [];
  try {
    // `corral/<environmentId>-<state dir hash>` (the orchestrator's hostScope).
    hierarchies = readdirSync("/sys/fs/cgroup").flatMap((h) => {
      const parent = join("/sys/fs/cgroup", h, "corral");
      try {
        return readdirSync(parent)
          .filter((name) => name === environmentId || name.startsWith(`${environmentId}-`))
          .map((name) => join(parent, name));
      } catch {
        return [];
      }
    });
  } catch {
    return;
  }
  for (const dir of hierarchies) {
    let groups: string[];
    try {
      groups = readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => join(dir, d.name));
    } catch {
      continue;
    }
    for (const group of [...groups, dir]) {
      try {
        for (const pid of readFileSync(join(group, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
          try {
            process.kill(Number(pid), "SIGKILL");
          } catch {}
        }
        rmdirWhenEmpty(group);
      } catch {}
    }
  }
}

function rmdirWhenEmpty(dir: string): void {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EBUSY") return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // the killed tasks leave within milliseconds
    }
  }
}

/**
 * A test environment and one orchestrator for the enclosing describe(),
 * created before its tests and cleaned up (processes, cgroups, files) after them.
 */
export function orchestratorPerSuite(
  name: string,
  overrides: Partial<ProcessOrchestratorConfig> | ((env: TestEnvironment) => Partial<ProcessOrchestratorConfig>) = {},
): { env: TestEnvironment; readonly orchestrator: ProcessOrchestrator } {
  const env = testEnvironment(name);
  let orchestrator: ProcessOrchestrator | undefined;
  before(async () => {
    orchestrator = await env.create(typeof overrides === "function" ? overrides(env) : overrides);
  });
  after(() => env.cleanup());
  return {
    env,
    get orchestrator() {
      if (!orchestrator) throw new Error("the suite's orchestrator is created in before()");
      return orchestrator;
    },
  };
}

/** Safety net after a test: SIGKILLs every process still carrying the environment id (all started by the test, by PID) and removes its cgroups. */
export function killEnvironment(environmentId: string): void {
  for (const pid of processesOfEnvironment(environmentId)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  removeCgroupsOf(environmentId);
}

/** A fresh temp dir for `fn`, removed when `fn` settles or, should the test time out first, from its after hook. */
export async function withTempDir(
  t: { after(fn: () => unknown): void },
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  t.after(remove);
  try {
    await fn(dir);
  } finally {
    await remove();
  }
}
