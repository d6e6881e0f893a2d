// The corral driver's manager process: a small Node host around the BUILT
// library (dist/, `npm run build` first). With CORRAL_BENCH_SRC=1 it loads
// src/ through tsx instead (start it with `node --import tsx`), for comparison.
//
//   node bench/corral-host.mjs '<json config>'
// config: { orchestrator: ProcessOrchestratorConfig, n, argv: [image, ...args] }
//
// On start it creates the orchestrator, subscribes to watchServices and calls
// ensureService("b", { image, args, scale: n }). It keeps the latest status of
// every process and a log of every event with its arrival time
// (process.hrtime.bigint(), CLOCK_MONOTONIC: the same clock in every process of
// the machine, so the harness can subtract its own timestamps from ours).
// Stdout carries one JSON object per line to the harness; stdin one command per line:
//   {"op":"list"}                          -> {pids:[online pids]}
//   {"op":"mark"}                          -> start a fresh event log
//   {"op":"events"}                        -> {events:[{s,pid,i,r,t}]} since the mark
//   {"op":"metrics","reps":10}             -> fetchServiceMetrics timings
//   {"op":"drop"}                          -> dropService, {t_dropped}
//   {"op":"close","leaveRunning":true}     -> close() then exit 0
import { pathToFileURL } from "node:url";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { packageRootFile } from "./package-root.mjs";

const T_BOOT = process.hrtime.bigint();
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const useSrc = process.env.CORRAL_BENCH_SRC === "1";
// CORRAL_BENCH_ENTRY=process: import only the process backend (dist/process/index.js), not the
// package root, which also loads the Kubernetes backend and its client library.
const entry = process.env.CORRAL_BENCH_ENTRY === "process" ? "process/index" : "index";
// dist: the package root as users import it (the bundle package.json exports), or dist/process/ alone.
const built = entry === "index" ? packageRootFile(root) : join(root, `dist/${entry}.js`);
const lib = await import(pathToFileURL(useSrc ? join(root, `src/${entry}.ts`) : built).href);
const T_LOADED = process.hrtime.bigint();

const cfg = JSON.parse(process.argv[2]);
const n = cfg.n;
const [image, ...args] = cfg.argv;
const SERVICE = "b";

const reply = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const now = () => process.hrtime.bigint();

const latest = new Map(); // processId -> latest event
let log = [];
let onlineCount = 0;
let tAllOnline = null;
const tCreate0 = now();
const orchestrator = await lib.ProcessOrchestrator.create(cfg.orchestrator);
const tCreated = now();
const ns = orchestrator.namespace("bench");
const launcherKind = orchestrator.launcher?.kind ?? null;

// The consumer a user of corral would write: every event is read as it comes.
(async () => {
  try {
    for await (const e of ns.watchServices()) {
      const t = now();
      if (e.serviceId !== SERVICE) continue;
      const prev = latest.get(e.processId);
      if (prev?.status === "online") onlineCount--;
      if (e.status === "online") onlineCount++;
      latest.set(e.processId, e);
      log.push({ s: e.status, r: e.reason ?? null, pid: e.pid ?? null, i: e.processId, t: String(t) });
      if (tAllOnline === null && onlineCount >= n) {
        tAllOnline = t;
        reply({ op: "online", t_all_online: String(t) });
      }
    }
  } catch (e) {
    process.stderr.write(`corral-host: watch failed: ${e?.stack || e}\n`);
  }
})();

const tEnsure0 = now();
await ns.ensureService(SERVICE, { image, args: () => args, scale: n });
const tEnsured = now();
reply({
  op: "ensured",
  launcher: launcherKind,
  source: `${useSrc ? "src (tsx)" : "dist"}/${entry}`,
  t_boot: String(T_BOOT),
  t_loaded: String(T_LOADED),
  t_create0: String(tCreate0),
  t_created: String(tCreated),
  t_ensure0: String(tEnsure0),
  t_ensured: String(tEnsured),
});

async function handle(cmd) {
  switch (cmd.op) {
    case "list":
      return reply({ op: "list", pids: [...latest.values()].filter((e) => e.status === "online" && e.pid).map((e) => e.pid) });
    case "mark":
      log = [];
      return reply({ op: "mark" });
    case "events":
      return reply({ op: "events", events: log });
    case "metrics": {
      const ms = [];
      let nonNull = 0;
      let count = 0;
      for (let r = 0; r < (cmd.reps ?? 10) + 1; r++) {
        const t = now();
        const m = await ns.fetchServiceMetrics(SERVICE);
        const dt = Number(now() - t) / 1e6;
        if (r > 0) ms.push(dt); // the first call primes the CPU samplers
        count = m.length;
        nonNull = m.filter((x) => x.memoryBytes !== null && x.cpuNanoCores !== null).length;
      }
      return reply({ op: "metrics", ms, count, nonNull });
    }
    case "drop": {
      const t0 = now();
      await ns.dropService(SERVICE);
      return reply({ op: "dropped", t0: String(t0), t_dropped: String(now()) });
    }
    case "close": {
      await orchestrator.close({ leaveRunning: !!cmd.leaveRunning });
      reply({ op: "closed" });
      process.exit(0);
      break;
    }
    default:
      return reply({ op: "error", error: `unknown op ${cmd.op}` });
  }
}

let chain = Promise.resolve();
const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  chain = chain.then(() => handle(JSON.parse(line))).catch((e) => reply({ op: "error", error: String(e?.stack || e) }));
});
// The harness went away: let go of nothing, stop everything.
rl.on("close", () => {
  chain = chain.then(() => orchestrator.close()).finally(() => process.exit(0));
});
process.on("SIGTERM", () => void orchestrator.close().finally(() => process.exit(0)));
