// Chaos against the daemon: rounds of desired-state changes during which the
// daemon (a host of the library) and its children are SIGKILLed at random
// moments, with a phase where the daemon has no file descriptors to spare.
// After every round a daemon (restarted when it was killed) must converge:
// /proc must show each desired process exactly once, nothing else of the
// environment may run, and desired.json must always load. Bounded by time;
// `npm run chaos -- --minutes N` runs it longer.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DaemonClient } from "../../src/cli/client.js";
import type { ServiceSpec } from "../../src/config/types.js";
import { parseDesiredState } from "../../src/config/desired-state.js";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");
const IMAGES = join(FIXTURES, "images");

export interface ChaosFigures {
  rounds: number;
  changes: number;
  daemonKills: number;
  childKills: number;
  lowFdRounds: number;
  violations: string[];
}

/** Live processes of the environment that lead their own group (what corral spawns), by their slot. */
function slots(environment: string): Map<string, number[]> {
  const found = new Map<string, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z" || fields[0] === "X" || Number(fields[2]) !== Number(entry)) continue;
      const vars = new Map(
        readFileSync(`/proc/${entry}/environ`, "latin1")
          .split("\0")
          .map((pair): [string, string] => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
      );
      if (vars.get("CORRAL_ENVIRONMENT_ID") !== environment) continue;
      const key = `${vars.get("CORRAL_SERVICE_ID") ?? "?"}/${vars.get("CORRAL_PROCESS_INDEX") ?? "?"}`;
      found.set(key, [...(found.get(key) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

export async function runChaos({
  durationMs,
  log = console.log,
}: {
  durationMs: number;
  log?: (line: string) => void;
}): Promise<ChaosFigures> {
  const stateDir = realpathSync(mkdtempSync(join(tmpdir(), "corral-chaos-")));
  const environment = `chaos-${process.pid}`;
  const socketPath = join(stateDir, "corral.sock");
  const client = new DaemonClient({ socketPath });
  const figures: ChaosFigures = { rounds: 0, changes: 0, daemonKills: 0, childKills: 0, lowFdRounds: 0, violations: [] };
  let daemon: ChildProcess | null = null;

  const startDaemon = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, ["--import", "tsx", join(FIXTURES, "daemon-host.ts"), stateDir, environment, "direct"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (err = (err + chunk.toString()).slice(-4000)));
    const deadline = Date.now() + 60_000;
    while (!out.includes("ready") && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!out.includes("ready")) throw new Error(`the daemon did not start (exit ${child.exitCode}): ${err}`);
    return child;
  };
  const kill = async (child: ChildProcess) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await once(child, "exit");
  };
  const setFdLimit = (pid: number, soft: number | "restore") => {
    const limits = readFileSync(`/proc/${pid}/limits`, "utf8");
    const hard = /Max open files\s+\d+\s+(\d+)/.exec(limits)?.[1] ?? "1048576";
    const value = soft === "restore" ? `${hard}:${hard}` : `${soft}:${hard}`;
    spawnSync("prlimit", ["--pid", String(pid), `--nofile=${value}`]);
  };

  const services = ["a", "b", "c", "d"];
  const spec = (scale: number, grace: number): ServiceSpec => ({
    command: join(IMAGES, "sleeper"),
    args: [],
    ports: [],
    scale,
    env: {},
    labels: {},
    dependsOn: {},
    stopGracePeriodMs: grace,
  });
  const randomState = () => ({
    environment,
    namespace: "default",
    services: Object.fromEntries(
      services.filter(() => Math.random() < 0.7).map((id) => [id, spec(1 + Math.floor(Math.random() * 3), pick([0, 100, 500]))]),
    ),
  });

  /** Converged: the daemon serves, the state file loads, every desired slot runs once and nothing else does. */
  const check = async (): Promise<string | null> => {
    const deadline = Date.now() + 45_000;
    let problem = "not checked";
    while (Date.now() < deadline) {
      problem = "";
      let wanted: Map<string, number>;
      try {
        const text = existsSync(join(stateDir, "desired.json")) ? readFileSync(join(stateDir, "desired.json"), "utf8") : null;
        const state = text === null ? null : parseDesiredState(JSON.parse(text));
        wanted = new Map(
          Object.entries(state?.services ?? {}).flatMap(([id, s]) => Array.from({ length: s.scale }, (_, i) => [`${id}/${i}`, 1])),
        );
      } catch (error) {
        return `desired.json does not load: ${error instanceof Error ? error.message : String(error)}`;
      }
      const running = slots(environment);
      for (const key of wanted.keys()) {
        const pids = running.get(key) ?? [];
        if (pids.length !== 1) problem += ` ${key} runs ${pids.length} times;`;
      }
      for (const [key, pids] of running) if (!wanted.has(key)) problem += ` ${key} runs (${pids.join(",")}) but is not desired;`;
      if (problem === "") return null;
      await new Promise((r) => setTimeout(r, 100));
    }
    return problem.trim();
  };

  const started = Date.now();
  try {
    daemon = await startDaemon();
    while (Date.now() - started < durationMs) {
      figures.rounds++;
      const lowFd = figures.rounds % 5 === 0;
      if (lowFd) {
        // The daemon keeps what it holds and a few to spare: launches fail (spawn-failed, EMFILE) until it has more.
        figures.lowFdRounds++;
        setFdLimit(daemon.pid!, readdirSync(`/proc/${daemon.pid}/fd`).length + 4);
      }
      const changes = 1 + Math.floor(Math.random() * 3);
      for (let i = 0; i < changes; i++) {
        figures.changes++;
        // Bounded: a daemon out of descriptors may leave the connection in its backlog until it has more.
        const apply = Promise.race([
          client.post("/v1/apply", randomState()).catch(() => {}),
          new Promise((r) => setTimeout(r, lowFd ? 3000 : 60_000)),
        ]);
        const action = Math.random();
        await new Promise((r) => setTimeout(r, Math.random() * 300));
        if (action < 0.3 && daemon) {
          figures.daemonKills++;
          await kill(daemon);
          daemon = null;
        } else if (action < 0.6) {
          const all = [...slots(environment).values()].flat();
          if (all.length > 0) {
            figures.childKills++;
            try {
              process.kill(pick(all), "SIGKILL");
            } catch {
              // already gone
            }
          }
        }
        await apply;
        if (!daemon) daemon = await startDaemon();
      }
      if (lowFd) setFdLimit(daemon.pid!, "restore");
      const problem = await check();
      if (problem !== null) {
        figures.violations.push(`round ${figures.rounds}: ${problem}`);
        log(`chaos violation, round ${figures.rounds}: ${problem}`);
      }
    }
  } finally {
    if (daemon) {
      await client.post("/v1/shutdown", { stopServices: true }).catch(() => {});
      if (daemon.exitCode === null) await Promise.race([once(daemon, "exit"), new Promise((r) => setTimeout(r, 30_000))]);
      await kill(daemon);
    }
    for (const pids of slots(environment).values()) {
      for (const pid of pids) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // gone meanwhile
        }
      }
    }
    rmSync(stateDir, { recursive: true, force: true });
  }
  log(
    `chaos: ${figures.rounds} rounds, ${figures.changes} changes, ${figures.daemonKills} daemon SIGKILLs, ${figures.childKills} child SIGKILLs, ${figures.lowFdRounds} low-fd rounds, violations = ${figures.violations.length}`,
  );
  return figures;
}
