#!/usr/bin/env node
// corral's benchmark against the peers, on the shared harness (../shared/bench,
// resolved at run time; CORRAL_BENCH_SHARED overrides). Phases:
//   run     start / RSS / idle CPU / restart / stop for every driver and n (the
//           shared harness's figures) plus, for corral: all-online per its own
//           events, fetchServiceMetrics timing, watchServices event latency
//   answer  start until n children answer on their Unix sockets (socat children)
//   adopt   corral only: a new orchestrator instance adopting n running processes
//   proxy   the shared proxy.mjs with corral's TcpProxy added as a proxy
//   cli     the corral command's latency (--help, ps at --cli-n processes) against bare node (cli-latency.mjs)
//   logs    one process flooding its logs (MiB/s vs program > file, | cat, pm2, supervisord); another service and corral ps while 10 flood (log-flood.mjs)
//   import  ms and RSS of importing the package root, against bare node (import-cost.mjs)
//   roll    HTTP load during corral restart / scale 3→1→3 / rolling env change: service address vs process 0's own (roll.mjs)
//
//   npm run bench                      full run, writes bench/results.jsonl + bench/RESULTS.md
//   npm run bench -- --quick           < 2 min, prints the tables
//   npm run bench -- --quick --n 10 --drivers raw,corral,corral-daemon --phases run,answer,adopt   smoke (CI)
//   npm run bench -- --help
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { execFileSync, spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { createCorralDriver } from "./drivers/corral.mjs";
import { createCorralDaemonDriver } from "./drivers/corral-daemon.mjs";
import { cliTable, measureCliLatency } from "./cli-latency.mjs";
import { measureRoll, rollTable } from "./roll.mjs";
import { logFloodTable, measureLogFlood } from "./log-flood.mjs";
import { measureImportCost } from "./import-cost.mjs";
import { packageRootFile } from "./package-root.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = resolve(here, "..");
const sharedDir = resolve(process.env.CORRAL_BENCH_SHARED || join(projectRoot, "../shared/bench"));
if (!existsSync(join(sharedDir, "run.mjs"))) {
  console.error(`bench: the shared harness is not at ${sharedDir} (set CORRAL_BENCH_SHARED)`);
  process.exit(2);
}
const imp = (p) => import(pathToFileURL(join(sharedDir, p)).href);
const { now, secSince, msSince, sleep, withTimeout, waitFor, stats, round } = await imp("lib/timing.mjs");
const { sumRssKiB, cpuTicks, cpuNs, CLK_TCK, machineFacts } = await imp("lib/proc.mjs");
const { installExitHandlers, reapAll, addExitHook, spawnTracked } = await imp("lib/reaper.mjs");
const { ResultWriter, markdownTable, mmm } = await imp("lib/results.mjs");
const { summarize: summarizeRun } = await imp("run.mjs");
const { summarize: summarizeProxy } = await imp("proxy.mjs");
const { waitExit } = await imp("drivers/common.mjs");

const PEERS = ["raw", "pm2", "supervisord"];
const CORRAL = ["corral-cgroup", "corral-direct"];
// Not in CORRAL: `--drivers corral` (the CI smoke) keeps meaning the library's two launchers.
const DAEMON = ["corral-daemon"];

const HELP = `usage: npm run bench -- [options]
  --quick                      small matrix, < 2 min (n=10,100; k=3; idle 1 s; 128 MiB / 100 conns proxy run)
  --drivers raw,pm2,supervisord,corral-cgroup,corral-direct,corral-cgroup-fdm,corral-daemon
                               "corral" = both corral launchers; "corral-cgroup-fdm" = the cgroup launcher while a
                               cgroup hierarchy mounted with favordynmods is in place (drivers/corral.mjs says why);
                               "corral-direct-tsx" = direct
                               launcher with the host loading src/ through tsx instead of dist/;
                               "corral-direct-proc" = direct launcher, host imports only dist/process/ (no Kubernetes client);
                               "corral-daemon" = the corral command: corral.yaml, \`corral up -d\`, ps --json, down (drivers/corral-daemon.mjs);
                               "corral-daemon-direct" = the same against \`corral daemon --launcher direct\` (up -d's daemon takes auto)
  --n 10,100,500,2000          numbers of managed processes
  --large-n 1000 --large-repeat 1   an n this large runs only in the first --large-repeat repeats,
                               and without the answer phase
  --phases run,answer,adopt,proxy,cli,roll,logs,import
  --cli-n 500 --cli-reps 15   processes behind \`corral ps\`, and alternating runs of each command (cli phase)
  --k 20 --repeat 3 --idle 10 --settle 2 --gap-ms 100 --metrics-reps 10
                               (--idle: at least the daemon's idle sampling interval, 60 s, for corral-daemon, but with --quick)
  --start-timeout 120 --restart-timeout 10 --stop-timeout 120   (s)
  --proxy-repeat 3 --proxy-bytes 1073741824 --pings 10000 --conc 500 --conc-pings 100
  --out FILE.jsonl             JSON lines (full run default: bench/results.jsonl, truncated)
  --results-md FILE.md         Markdown report (full run default: bench/RESULTS.md)
  --workdir /tmp/bench-work    --keep   --no-build
  --report FILE.jsonl          measure nothing: re-render the report of a finished run (to stdout
                               and to --results-md, default bench/RESULTS.md)`;

function parseArgs(argv) {
  const o = {
    quick: false,
    drivers: [...PEERS, ...CORRAL, ...DAEMON].join(","),
    n: "10,100,500,2000",
    largeN: 1000,
    largeRepeat: 1,
    phases: "run,answer,adopt,proxy,cli,roll,logs,import",
    k: 20,
    repeat: 3,
    idle: 10,
    settle: 2,
    gapMs: 100,
    metricsReps: 10,
    startTimeout: 120,
    restartTimeout: 10,
    stopTimeout: 120,
    proxyRepeat: 3,
    proxyBytes: 1 << 30,
    pings: 10000,
    warmup: 1000,
    conc: 500,
    concPings: 100,
    cliN: 500,
    cliReps: 15,
    out: null,
    resultsMd: null,
    workdir: "/tmp/bench-work",
    keep: false,
    build: true,
    help: false,
    report: null,
  };
  const given = new Set();
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-h" || a === "--help") {
      o.help = true;
      continue;
    }
    if (a === "--quick") {
      o.quick = true;
      continue;
    }
    if (a === "--keep") {
      o.keep = true;
      continue;
    }
    if (a === "--no-build") {
      o.build = false;
      continue;
    }
    const m = /^--([a-zA-Z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`bad argument ${a}`);
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const val = m[2] ?? argv[++i];
    if (!(key in o)) throw new Error(`unknown option --${m[1]}`);
    o[key] = typeof o[key] === "number" ? Number(val) : val;
    given.add(key);
  }
  if (o.quick) {
    const q = {
      n: "10,100",
      k: 3,
      repeat: 1,
      idle: 1,
      settle: 0.3,
      gapMs: 50,
      metricsReps: 5,
      proxyRepeat: 1,
      proxyBytes: 128 << 20,
      pings: 2000,
      warmup: 200,
      conc: 100,
      concPings: 10,
      cliN: 100,
      cliReps: 5,
      startTimeout: 60,
      stopTimeout: 60,
    };
    for (const [k, v] of Object.entries(q)) if (!given.has(k)) o[k] = v;
  }
  if (!o.out) o.out = o.quick ? join(o.workdir, `corral-bench-quick-${Date.now()}.jsonl`) : join(here, "results.jsonl");
  if (!o.resultsMd && !o.quick) o.resultsMd = join(here, "RESULTS.md");
  return o;
}

function whichAbs(cmd) {
  return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim();
}
const hasCmd = (cmd) => {
  try {
    return !!whichAbs(cmd);
  } catch {
    return false;
  }
};

/** The managed command of the main phase: `sleep 100000`, as the shared harness's default. */
const sleepCommand = () => ({ name: "sleep", argv: [whichAbs("sleep"), "100000"], comm: "sleep" });

/**
 * A small child that listens on a Unix socket `<dir>/c-<pid>.sock` (pid-named,
 * so every manager can run the very same argv): socat, exec'd by sh; the
 * shared harness's Node HTTP child where socat is missing.
 */
function socketCommand(dir) {
  if (hasCmd("socat")) {
    return {
      name: "socat-listen",
      argv: ["/bin/sh", "-c", 'exec socat UNIX-LISTEN:"$0"/c-$$.sock,fork EXEC:/bin/true', dir],
      comm: "socat",
    };
  }
  return { name: "node-http", argv: [process.execPath, join(sharedDir, "lib", "http-child.mjs"), dir], comm: "node" };
}

/** Listening Unix sockets under `prefix`, from /proc/net/unix (flag __SO_ACCEPTCON). */
function listeningSockets(prefix) {
  let text;
  try {
    text = readFileSync("/proc/net/unix", "utf8");
  } catch {
    return [];
  }
  const out = [];
  for (const line of text.split("\n")) {
    const i = line.indexOf(prefix);
    if (i < 0) continue;
    const f = line.trim().split(/\s+/);
    if ((parseInt(f[3], 16) & 0x10000) !== 0) out.push(line.slice(i).trim());
  }
  return out;
}

function tryConnect(path, timeoutMs = 2000) {
  return new Promise((res) => {
    const s = connect(path);
    const done = (ok) => {
      clearTimeout(t);
      s.destroy();
      res(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

async function loadDrivers(names) {
  const out = [];
  for (const name of names) {
    if (PEERS.includes(name)) out.push((await imp(`drivers/${name}.mjs`)).default);
    else if (name === "corral-cgroup") out.push(await createCorralDriver(sharedDir, { launcher: "cgroup" }));
    else if (name === "corral-cgroup-fdm") out.push(await createCorralDriver(sharedDir, { launcher: "cgroup", name, favorDynmods: true }));
    else if (name === "corral-direct") out.push(await createCorralDriver(sharedDir, { launcher: "direct" }));
    else if (name === "corral-direct-tsx") out.push(await createCorralDriver(sharedDir, { launcher: "direct", name, src: true }));
    else if (name === "corral-direct-proc") out.push(await createCorralDriver(sharedDir, { launcher: "direct", name, entry: "process" }));
    else if (name === "corral-daemon") out.push(await createCorralDaemonDriver(sharedDir));
    else if (name === "corral-daemon-direct") out.push(await createCorralDaemonDriver(sharedDir, { name, launcher: "direct" }));
    else throw new Error(`unknown driver ${name}`);
  }
  return out;
}

const isCorral = (d) => d.name.startsWith("corral");
const errStr = (e) => e?.message || String(e);
const ns2s = (t, t0) => Number(BigInt(t) - t0) / 1e9;

async function finish(driver, rec, dropHook, workdir, opts) {
  try {
    await withTimeout(driver.teardown(), 30000, "teardown");
  } catch (e) {
    rec.errors.push(`teardown: ${errStr(e)}`);
  }
  const left = await reapAll();
  if (left.length) rec.errors.push(`pids still alive after reap: ${left.join(",")}`);
  if (driver.cleanupCgroups) {
    const stuck = driver.cleanupCgroups();
    if (stuck.length) rec.errors.push(`cgroups left: ${stuck.join(",")}`);
  }
  dropHook();
  if (!opts.keep) {
    try {
      rmSync(workdir, { recursive: true, force: true });
    } catch {
      /* */
    }
  }
}

/** The shared harness's measurement (run.mjs), plus corral's own view where the driver is corral. */
async function measure(driver, n, rep, opts, command) {
  const rec = { type: "result", driver: driver.name, n, rep, cmd: command.name, k: opts.k, loadavg1: loadavg()[0], errors: [] };
  const workdir = mkdtempSync(join(opts.workdir, `${driver.name}-n${n}-r${rep}-`));
  const dropHook = opts.keep ? () => {} : addExitHook(() => rmSync(workdir, { recursive: true, force: true }));
  const startMs = opts.startTimeout * 1000;
  const stopMs = opts.stopTimeout * 1000;
  try {
    await withTimeout(driver.setup(workdir), 30000, "setup");
    let t0 = now();
    try {
      await withTimeout(driver.startAll(n, command, { timeoutMs: startMs }), startMs + 10000, "startAll");
      rec.start_s = secSince(t0);
      rec.start_cmd_s = driver.startCmdS ?? null;
    } catch (e) {
      rec.start_s = null;
      rec.start_reached = e.reached ?? driver.scanChildren().length;
      rec.errors.push(`start: ${errStr(e)} (reached ${rec.start_reached}/${n} in ${round(secSince(t0), 1)} s)`);
      return rec;
    }
    if (isCorral(driver)) {
      try {
        const info = await withTimeout(driver.startInfo(), startMs, "corral: all online");
        rec.launcher = info.launcher;
        rec.source = info.source;
        rec.online_s = ns2s(info.t_all_online, t0); // the call (host launch included) -> n online events
        rec.ensure_s = ns2s(info.t_ensured, t0);
        // corral-daemon: `corral up -d` returned (its settle window included), the first `ps --json` showing n online
        if (info.daemon) {
          rec.start_cmd_s = ns2s(info.daemon.t_up, t0);
          rec.daemon = { ps_online_s: ns2s(info.daemon.t_ps_online, t0), ps_ms: info.daemon.ps_ms };
        } else
          rec.corral = {
            host_boot_s: ns2s(info.t_boot, t0),
            load_ms: Number(BigInt(info.t_loaded) - BigInt(info.t_boot)) / 1e6,
            create_ms: Number(BigInt(info.t_created) - BigInt(info.t_create0)) / 1e6,
            ensure_to_online_ms: Number(BigInt(info.t_all_online) - BigInt(info.t_ensure0)) / 1e6,
            ensure_call_ms: Number(BigInt(info.t_ensured) - BigInt(info.t_ensure0)) / 1e6,
          };
      } catch (e) {
        rec.errors.push(`online: ${errStr(e)}`);
      }
    }

    await sleep(opts.settle * 1000);
    const mp = await driver.managerPids();
    rec.manager_pids = mp;
    rec.rss_kib = sumRssKiB(mp);
    rec.rss_mib = rec.rss_kib / 1024;
    rec.rss_per_child_kib = rec.rss_kib / n;
    try {
      const view = await withTimeout(driver.listPids(), 60000, "listPids");
      rec.view_running = view.length;
      rec.view_consistent = view.length === driver.known.size && view.every((p) => driver.known.has(p));
    } catch (e) {
      rec.errors.push(`view: ${errStr(e)}`);
    }

    {
      const pids = await driver.managerPids();
      const c0 = cpuTicks(pids);
      const n0 = cpuNs(pids);
      const w0 = now();
      // A driver that does periodic work declares its period (the daemon's history sampler); --quick keeps its short window.
      await sleep((opts.quick ? opts.idle : Math.max(opts.idle, driver.minIdleSeconds ?? 0)) * 1000);
      const n1 = cpuNs(pids);
      const c1 = cpuTicks(pids);
      rec.idle_wall_s = secSince(w0);
      rec.idle_cpu_ticks_s = (c1 - c0) / CLK_TCK;
      rec.idle_cpu_s = n0 != null && n1 != null ? (n1 - n0) / 1e9 : rec.idle_cpu_ticks_s;
      rec.idle_cpu_pct = (100 * rec.idle_cpu_s) / rec.idle_wall_s;
      rec.idle_children_after = driver.scanChildren().length;
      if (rec.idle_children_after !== n) rec.errors.push(`idle: ${rec.idle_children_after}/${n} children after idle`);
    }

    if (isCorral(driver)) {
      try {
        const m = await driver.metrics(opts.metricsReps);
        const s = stats(m.ms);
        rec.metrics = {
          reps: m.ms.length,
          p50_ms: s.median,
          max_ms: s.max,
          min_ms: s.min,
          count: m.count,
          non_null: m.nonNull,
          samples_ms: m.ms.map((x) => round(x, 3)),
        };
        if (m.count !== n || m.nonNull !== n) rec.errors.push(`metrics: ${m.nonNull}/${m.count} non-null of ${n}`);
      } catch (e) {
        rec.errors.push(`metrics: ${errStr(e)}`);
      }
      await driver.markEvents();
    }

    const samples = [];
    const kills = [];
    let failures = 0;
    for (let i = 0; i < opts.k; i++) {
      const victim = driver.known.values().next().value;
      if (!victim) {
        rec.errors.push("restart: no known child left");
        break;
      }
      const t = now();
      try {
        kills.push({ pid: victim, t });
        await driver.killOne(victim);
        const repl = await driver.waitRestarted(victim, { timeoutMs: opts.restartTimeout * 1000 });
        samples.push(msSince(t));
        kills.at(-1).replacement = repl;
      } catch (e) {
        failures++;
        rec.errors.push(`restart #${i}: ${errStr(e)}`);
        if (failures >= 3) break;
      }
      await sleep(opts.gapMs);
    }
    const s = stats(samples);
    rec.restart = {
      ok: samples.length,
      failed: failures,
      p50_ms: s.median,
      p95_ms: s.p95,
      min_ms: s.min,
      max_ms: s.max,
      samples_ms: samples.map((x) => round(x, 3)),
    };

    if (isCorral(driver)) {
      // watchServices latency: SIGKILL -> the offline event for that pid read by the host's consumer;
      // and corral's own restart figure: SIGKILL -> the online event of the replacement.
      try {
        const events = await driver.events();
        const wl = [];
        const rl = [];
        for (const k of kills) {
          const off = events.find((e) => e.s === "offline" && e.pid === k.pid && e.r !== "stopped");
          if (!off) continue;
          wl.push(Number(BigInt(off.t) - k.t) / 1e6);
          const on = events.find((e) => e.s === "online" && e.i === off.i && BigInt(e.t) >= BigInt(off.t) && e.pid !== k.pid);
          if (on) rl.push(Number(BigInt(on.t) - k.t) / 1e6);
        }
        const ws = stats(wl);
        const rs = stats(rl);
        rec.watch = { count: wl.length, p50_ms: ws.median, p95_ms: ws.p95, max_ms: ws.max, samples_ms: wl.map((x) => round(x, 3)) };
        rec.restart_events = { count: rl.length, p50_ms: rs.median, p95_ms: rs.p95, max_ms: rs.max };
        if (wl.length !== samples.length) rec.errors.push(`watch: ${wl.length} offline events for ${samples.length} kills`);
      } catch (e) {
        rec.errors.push(`watch: ${errStr(e)}`);
      }
    }
    try {
      const view = await withTimeout(driver.listPids(), 60000, "listPids");
      rec.view_running_after_restarts = view.length;
      rec.view_consistent_after_restarts = view.length === driver.known.size && view.every((p) => driver.known.has(p));
    } catch (e) {
      rec.errors.push(`view after restarts: ${errStr(e)}`);
    }

    t0 = now();
    try {
      await withTimeout(driver.stopAll({ timeoutMs: stopMs }), stopMs + 10000, "stopAll");
      rec.stop_s = secSince(t0);
      rec.stop_cmd_s = driver.stopCmdS ?? null;
      if (isCorral(driver) && driver.dropped) rec.drop_resolved_s = ns2s(driver.dropped.t_dropped, t0);
    } catch (e) {
      rec.stop_s = null;
      rec.errors.push(`stop: ${errStr(e)}`);
    }
  } catch (e) {
    rec.errors.push(errStr(e));
  } finally {
    await finish(driver, rec, dropHook, workdir, opts);
  }
  return rec;
}

/** Start until all n children answer on their sockets (and, for comparison, until n exist in /proc). */
async function measureAnswer(driver, n, rep, opts) {
  const rec = { type: "answer", driver: driver.name, n, rep, loadavg1: loadavg()[0], errors: [] };
  const workdir = mkdtempSync(join(opts.workdir, `${driver.name}-answer-n${n}-r${rep}-`));
  const dropHook = opts.keep ? () => {} : addExitHook(() => rmSync(workdir, { recursive: true, force: true }));
  const dir = join(workdir, "s");
  mkdirSync(dir);
  const command = socketCommand(dir);
  rec.cmd = command.name;
  const startMs = opts.startTimeout * 1000;
  try {
    await withTimeout(driver.setup(workdir), 30000, "setup");
    const t0 = now();
    const started = driver.startAll(n, command, { timeoutMs: startMs }).then(() => {
      rec.start_s = secSince(t0);
    });
    started.catch(() => {});
    const prefix = `${dir}/c-`;
    let found = [];
    try {
      await waitFor(() => (found = listeningSockets(prefix)).length >= n, {
        timeoutMs: startMs,
        intervalMs: 5,
        label: `${n} sockets listening`,
      });
      rec.answer_s = secSince(t0);
    } catch (e) {
      rec.answer_s = null;
      rec.answer_reached = found.length;
      rec.errors.push(`answer: ${errStr(e)}`);
    }
    try {
      await withTimeout(started, startMs, "startAll");
    } catch (e) {
      rec.errors.push(`start: ${errStr(e)}`);
    }
    if (isCorral(driver)) {
      try {
        const info = await withTimeout(driver.startInfo(), startMs, "corral: all online");
        rec.online_s = ns2s(info.t_all_online, t0);
        rec.launcher = info.launcher;
      } catch (e) {
        rec.errors.push(`online: ${errStr(e)}`);
      }
    }
    if (rec.answer_s != null) {
      // Every socket really accepts a connection (timed separately, not part of answer_s).
      let ok = 0;
      const queue = [...found];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let p = queue.pop(); p; p = queue.pop()) if (await tryConnect(p)) ok++;
        }),
      );
      rec.answer_connected = ok;
      if (ok !== found.length) rec.errors.push(`answer: only ${ok}/${found.length} sockets accepted a connection`);
    }
  } catch (e) {
    rec.errors.push(errStr(e));
  } finally {
    await finish(driver, rec, dropHook, workdir, opts);
  }
  return rec;
}

/** corral only: close({ leaveRunning }) and a new instance adopting the n processes. */
async function measureAdopt(driver, n, rep, opts, command) {
  const rec = { type: "adopt", driver: driver.name, n, rep, loadavg1: loadavg()[0], errors: [] };
  const workdir = mkdtempSync(join(opts.workdir, `${driver.name}-adopt-n${n}-r${rep}-`));
  const dropHook = opts.keep ? () => {} : addExitHook(() => rmSync(workdir, { recursive: true, force: true }));
  const startMs = opts.startTimeout * 1000;
  try {
    await withTimeout(driver.setup(workdir), 30000, "setup");
    await withTimeout(driver.startAll(n, command, { timeoutMs: startMs }), startMs + 10000, "startAll");
    await withTimeout(driver.startInfo(), startMs, "corral: all online");
    const before = new Set(driver.known);
    await sleep(500);
    const { t0, ensured, online } = await driver.handOver({ timeoutMs: startMs });
    rec.launcher = ensured.launcher;
    rec.adopt_s = ns2s(online.t_all_online, t0); // new host launched -> n online (adopted)
    if (ensured.t_create0 != null) {
      rec.adopt_internal_ms = Number(BigInt(online.t_all_online) - BigInt(ensured.t_create0)) / 1e6; // create() -> n online
      rec.adopt_load_ms = Number(BigInt(ensured.t_loaded) - BigInt(ensured.t_boot)) / 1e6;
    } else {
      // corral-daemon (daemon SIGKILLed, `corral up -d` again): until `ps --json` shows the same n pids online, until `up -d` returned
      rec.adopt_ps_s = ns2s(ensured.t_ps, t0);
      rec.adopt_ps_ms = ensured.ps_ms;
      rec.adopt_cmd_s = ns2s(ensured.t_cmd, t0);
    }
    const view = await driver.listPids();
    rec.adopt_same_pids = view.length === before.size && view.every((p) => before.has(p));
    if (!rec.adopt_same_pids) rec.errors.push(`adopt: ${view.length} online, not the ${before.size} pids left running`);
    const t1 = now();
    const dropped = driver.request("drop", {}, opts.stopTimeout * 1000);
    await driver.adoptedGone(opts.stopTimeout * 1000);
    rec.stop_adopted_s = secSince(t1);
    await dropped;
    driver.known.clear();
  } catch (e) {
    rec.errors.push(errStr(e));
  } finally {
    await finish(driver, rec, dropHook, workdir, opts);
  }
  return rec;
}

/** The shared proxy.mjs with corral's TcpProxy as one more proxy; its records are merged into ours. */
async function runProxy(opts, writer) {
  const out = join(opts.workdir, `proxy-${process.pid}-${Date.now()}.jsonl`);
  const args = [
    join(sharedDir, "proxy.mjs"),
    "--repeat",
    String(opts.proxyRepeat),
    "--bytes",
    String(opts.proxyBytes),
    "--pings",
    String(opts.pings),
    "--warmup",
    String(opts.warmup),
    "--conc",
    String(opts.conc),
    "--conc-pings",
    String(opts.concPings),
    "--out",
    out,
  ];
  // Quick: socat with backlog 4096 and the naive Node pipe only. socat's default backlog (5) makes a
  // burst of 100+ connects wait for SYN retransmits (~107 s here); the full run measures it anyway.
  if (opts.quick)
    args.push(
      "--no-default-proxies",
      "--proxy",
      "socat-backlog4096=socat TCP-LISTEN:{port},fork,reuseaddr,bind=127.0.0.1,backlog=4096 UNIX-CONNECT:{path}",
      "--proxy",
      "node-naive={node} {bench}/lib/naive-proxy.mjs {port} {path}",
    );
  args.push("--proxy", `corral=${process.execPath} ${join(here, "corral-proxy.mjs")} {port} {path}`);
  args.push("--proxy", `corral-service=${process.execPath} ${join(here, "corral-service-proxy.mjs")} {port} {path}`);
  const child = spawnTracked(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] });
  const limitMs = 60 * 60 * 1000;
  let exited = await waitExit(child, limitMs);
  if (!exited) {
    try {
      process.kill(child.pid, "SIGTERM");
    } catch {
      /* */
    } // its own handlers reap what it started
    exited = await waitExit(child, 10000);
    if (!exited) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* */
      }
    }
    writer.write({ type: "proxy-error", errors: ["proxy.mjs timed out"] });
  }
  if (existsSync(out)) {
    for (const line of readFileSync(out, "utf8").split("\n").filter(Boolean)) writer.write(JSON.parse(line));
    rmSync(out, { force: true });
  }
}

// ---------------------------------------------------------------- summaries

const med = (vals) => stats(vals.filter((x) => typeof x === "number" && Number.isFinite(x))).median;

const FIGURES = [
  // [label, record type, value fn, decimals, lower is better]
  ["start s: to all n online (corral: its events; others: n exec'd in /proc)", "result", (r) => r.online_s ?? r.start_s, 3],
  ["start s: n exec'd in /proc (same clock for all)", "result", (r) => r.start_s, 3],
  ["start s: all n answering on their sockets", "answer", (r) => r.answer_s, 3],
  ["stop s: stop/drop to all n gone", "result", (r) => r.stop_s, 3],
  ["restart p50 ms: SIGKILL to replacement pid", "result", (r) => r.restart?.p50_ms, 2],
  ["restart p95 ms", "result", (r) => r.restart?.p95_ms, 2],
  ["manager RSS MiB", "result", (r) => r.rss_mib, 1],
  ["idle CPU ms per 10 s", "result", (r) => (r.idle_cpu_s == null ? null : (r.idle_cpu_s * 1e4) / r.idle_wall_s), 1],
  ["adoption s: new instance to n online", "adopt", (r) => r.adopt_s, 3],
  ["corral-daemon adoption s: up -d after SIGKILL to `ps --json` showing the same n online", "adopt", (r) => r.adopt_ps_s, 3],
  ["corral-daemon start s: to the first `ps --json` showing n online", "result", (r) => r.daemon?.ps_online_s, 3],
  ["corral-daemon start s: `corral up -d` returned (2 s settle window included)", "result", (r) => (r.daemon ? r.start_cmd_s : null), 3],
  ["corral-daemon `ps --json` ms at n (the call that first showed n online)", "result", (r) => r.daemon?.ps_ms, 1],
  ["fetchServiceMetrics ms (p50 of reps)", "result", (r) => r.metrics?.p50_ms, 2],
  ["watchServices latency p50 ms (exit to event)", "result", (r) => r.watch?.p50_ms, 2],
  ["watchServices latency p95 ms", "result", (r) => r.watch?.p95_ms, 2],
];

function comparisonTable(records) {
  const drivers = [...new Set(records.filter((r) => r.driver && r.n != null).map((r) => r.driver))];
  const corrals = drivers.filter((d) => d.startsWith("corral"));
  const others = drivers.filter((d) => !d.startsWith("corral"));
  const ns = [...new Set(records.filter((r) => r.n != null).map((r) => r.n))].sort((a, b) => a - b);
  const rows = [];
  for (const [label, type, fn, d] of FIGURES) {
    for (const n of ns) {
      const vals = {};
      for (const drv of drivers) {
        const g = records.filter((r) => r.type === type && r.driver === drv && r.n === n);
        if (g.length) vals[drv] = g.map(fn);
      }
      if (!corrals.some((c) => vals[c]?.some((x) => x != null))) continue;
      const row = { figure: label, n };
      for (const drv of drivers) row[drv] = vals[drv] ? (mmm(vals[drv], d) ?? "-") : "";
      for (const c of corrals) {
        const mc = med(vals[c] ?? []);
        const parts = [];
        for (const o of [...others, ...corrals.filter((x) => x !== c)]) {
          const mo = med(vals[o] ?? []);
          if (mc != null && mo != null && mo > 0) parts.push(`${o} ${round(mc / mo, 2)}`);
        }
        row[`ratio:${c}`] = parts.join(", ");
      }
      rows.push(row);
    }
  }
  const cols = [
    ["figure", "figure", "l"],
    ["n", "n"],
    ...drivers.map((drv) => [drv, drv]),
    ...corrals.map((c) => [`${c} ÷ (median ratio)`, `ratio:${c}`, "l"]),
  ];
  return markdownTable(rows, cols);
}

function corralDetailTable(records) {
  const keys = [];
  const groups = new Map();
  for (const r of records.filter((x) => x.type === "result" && x.driver?.startsWith("corral"))) {
    const k = `${r.driver}\u0000${r.n}`;
    if (!groups.has(k)) {
      groups.set(k, []);
      keys.push(k);
    }
    groups.get(k).push(r);
  }
  const rows = keys.map((k) => {
    const g = groups.get(k);
    const adopt = records.filter((r) => r.type === "adopt" && r.driver === g[0].driver && r.n === g[0].n);
    return {
      driver: g[0].driver,
      launcher: g[0].launcher ?? "?",
      n: g[0].n,
      load: mmm(
        g.map((r) => r.corral?.load_ms),
        0,
      ),
      create: mmm(
        g.map((r) => r.corral?.create_ms),
        1,
      ),
      ensure: mmm(
        g.map((r) => r.corral?.ensure_call_ms),
        0,
      ),
      online: mmm(
        g.map((r) => r.corral?.ensure_to_online_ms),
        0,
      ),
      drop: mmm(
        g.map((r) => r.drop_resolved_s),
        3,
      ),
      rev: mmm(
        g.map((r) => r.restart_events?.p50_ms),
        2,
      ),
      adoptInt: mmm(
        adopt.map((r) => r.adopt_internal_ms),
        0,
      ),
      adoptStop: mmm(
        adopt.map((r) => r.stop_adopted_s),
        3,
      ),
      adoptOk: adopt.map((r) => (r.adopt_same_pids ? "yes" : "NO")).join("/"),
    };
  });
  return markdownTable(rows, [
    ["driver", "driver", "l"],
    ["launcher", "launcher", "l"],
    ["n", "n"],
    ["import of dist ms", "load"],
    ["create() ms", "create"],
    ["ensureService() ms", "ensure"],
    ["ensure → n online ms", "online"],
    ["dropService resolved s", "drop"],
    ["restart p50 ms (to online event)", "rev"],
    ["adopt: create → n online ms", "adoptInt"],
    ["stop adopted s", "adoptStop"],
    ["adopted = same pids", "adoptOk"],
  ]);
}

function proxyRatioTable(records) {
  const pr = records.filter((r) => r.type === "proxy");
  if (!pr.some((r) => r.target === "corral")) return "";
  const targets = [...new Set(pr.map((r) => r.target))].filter((t) => t !== "corral");
  const m = (t, fn) => med(pr.filter((r) => r.target === t).map(fn));
  const figs = [
    ["throughput MiB/s", (r) => r.throughput?.mib_s],
    ["RTT p50 µs", (r) => r.latency?.p50_us],
    ["RTT p99 µs", (r) => r.latency?.p99_us],
    ["concurrency total s", (r) => r.concurrency?.total_s],
    ["concurrency RTT p99 µs", (r) => r.concurrency?.p99_us],
  ];
  const rows = figs.map(([label, fn]) => {
    const c = m("corral", fn);
    const row = { figure: label, corral: round(c, 1) };
    for (const t of targets) {
      const o = m(t, fn);
      row[t] = o ? round(c / o, 2) : "-";
    }
    return row;
  });
  return markdownTable(rows, [["figure", "figure", "l"], ["corral (median)", "corral"], ...targets.map((t) => [`÷ ${t}`, t])]);
}

/**
 * Issue 16 item 3, for the per-process proxy and the service address: throughput at least the
 * naive pipe's and socat's (the better of its two rows), CPU per GiB no more than the naive
 * pipe's, RTT p99 no worse than either, the 500-connection burst without errors, and the
 * moonshot of 60 % of a direct Unix-socket connection. Medians over the run's repeats.
 */
function proxyTargetRows(pr) {
  const rows = [];
  const gib = (r) => r.throughput.bytes / 1073741824;
  const fig = {
    mibs: (r) => r.throughput?.mib_s,
    cpu: (r) => (r.throughput?.proxy_cpu_s == null ? null : r.throughput.proxy_cpu_s / gib(r)),
    p99: (r) => r.latency?.p99_us,
  };
  const m = (t, fn) => med(pr.filter((r) => r.target === t).map(fn));
  const has = (t) => pr.some((r) => r.target === t);
  const socats = ["socat", "socat-backlog4096"].filter(has);
  const bestSocat = (fn, better) => {
    const vals = socats.map((t) => m(t, fn)).filter((v) => v != null);
    return vals.length ? better(...vals) : null;
  };
  const naive = has("node-naive") ? "node-naive" : null;
  for (const [target, driver] of [
    ["corral", "corral TcpProxy"],
    ["corral-service", "corral service address"],
  ]) {
    if (!has(target)) continue;
    const add = (label, val, goal, ok, digits = 0) =>
      rows.push({
        driver,
        target: label,
        value: val == null ? "not measured" : String(round(val, digits)),
        goal: goal == null ? "-" : String(round(goal, digits)),
        met: val == null || goal == null ? "?" : ok(val, goal) ? "met" : "MISSED",
      });
    const ge = (v, g) => v >= g;
    const le = (v, g) => v <= g;
    const mibs = m(target, fig.mibs);
    const cpu = m(target, fig.cpu);
    const p99 = m(target, fig.p99);
    add("throughput ≥ node-naive (MiB/s)", mibs, naive && m(naive, fig.mibs), ge);
    add("throughput ≥ socat, better row (MiB/s)", mibs, bestSocat(fig.mibs, Math.max), ge);
    add("proxy CPU ≤ node-naive (s/GiB)", cpu, naive && m(naive, fig.cpu), le, 2);
    add("RTT p99 ≤ node-naive (µs)", p99, naive && m(naive, fig.p99), le, 1);
    add("RTT p99 ≤ socat, better row (µs)", p99, bestSocat(fig.p99, Math.min), le, 1);
    const runs = pr.filter((r) => r.target === target);
    const burstErrors = runs.every((r) => r.concurrency) ? runs.reduce((a, r) => a + r.concurrency.errors, 0) : null;
    const conns = runs.find((r) => r.concurrency)?.concurrency.conns;
    add(`${conns ?? "?"}-connection burst: errors, all runs`, burstErrors, 0, (v, g) => v === g);
    const direct = m("direct-unix", fig.mibs);
    add("moonshot: throughput ≥ 60 % of direct (MiB/s)", mibs, direct == null ? null : 0.6 * direct, ge);
  }
  return rows;
}

/**
 * Issue 18's goals, by launcher: the cgroup launcher (and the daemon, which runs
 * it here) gets the looser start and stop ratios the issue gives it.
 */
function goalsFor(driver) {
  const cgroup = driver.includes("cgroup") || driver === "corral-daemon";
  return { start: cgroup ? 1.6 : 1.3, stop: cgroup ? 3 : 1.5, restartSlackMs: 3, rss: 1.25, metricsMs: 50 };
}

function targetsTable(records) {
  const res = records.filter((r) => r.type === "result");
  const nAt = 500;
  const rows = [];
  const add = (driver, target, val, goal, ok, digits = 3) =>
    rows.push({
      driver,
      target,
      value: val == null ? "not measured" : String(round(val, digits)),
      goal: goal == null ? "-" : String(round(goal, digits)),
      met: val == null || goal == null ? "?" : ok(val, goal) ? "met" : "MISSED",
    });
  const le = (v, g) => v <= g;
  const lt = (v, g) => v < g;
  const g = (drv, fn) => med(res.filter((r) => r.driver === drv && r.n === nAt).map(fn));
  const raw = (fn) => g("raw", fn);
  for (const c of [...new Set(res.map((r) => r.driver))].filter((d) => d.startsWith("corral"))) {
    const goal = goalsFor(c);
    const times = (k, base) => (base == null ? null : k * base);
    const rst = raw((r) => r.start_s);
    add(
      c,
      `start ${nAt} ≤ ${goal.start}× raw (s)`,
      g(c, (r) => r.online_s ?? r.start_s),
      times(goal.start, rst),
      le,
    );
    const rsp = raw((r) => r.stop_s);
    add(
      c,
      `stop ${nAt} ≤ ${goal.stop}× raw (s)`,
      g(c, (r) => r.stop_s),
      times(goal.stop, rsp),
      le,
    );
    const rrp = raw((r) => r.restart?.p50_ms);
    add(
      c,
      `restart p50 ≤ raw + ${goal.restartSlackMs} ms (ms)`,
      g(c, (r) => r.restart?.p50_ms),
      rrp == null ? null : rrp + goal.restartSlackMs,
      le,
      2,
    );
    const ic = g(c, (r) => (r.idle_cpu_s == null ? null : (100 * r.idle_cpu_s) / r.idle_wall_s));
    add(c, `idle CPU < 0.1 % of a core, ${nAt} children (%)`, ic, 0.1, lt);
    add(
      c,
      `manager RSS ≤ ${goal.rss}× raw (MiB)`,
      g(c, (r) => r.rss_mib),
      times(
        goal.rss,
        raw((r) => r.rss_mib),
      ),
      le,
      1,
    );
    const fm = g(c, (r) => r.metrics?.p50_ms);
    if (fm != null || !c.startsWith("corral-daemon")) add(c, `fetchServiceMetrics < ${goal.metricsMs} ms`, fm, goal.metricsMs, lt, 1);
  }
  const imports = records.filter((r) => r.type === "import" && !r.errors?.length);
  const rootImport = imports.find((r) => r.entry.endsWith("/bundle/index.js")) ?? imports[0];
  if (rootImport) {
    add("package root", "import ≤ 60 ms (ms)", rootImport.import_ms, 60, le, 1);
    const unbundled = imports.find((r) => r !== rootImport);
    if (unbundled) {
      add(
        "package root",
        "RSS drop against the unbundled dist/index.js (MiB)",
        unbundled.import_rss_mib - rootImport.import_rss_mib,
        0,
        (v) => v > 0,
        1,
      );
    }
  }
  const logs = records.filter((r) => r.type === "logs" && !r.errors?.length);
  for (const launcher of [...new Set(logs.filter((r) => r.kind === "isolation").map((r) => r.launcher))]) {
    const iso = logs.filter((r) => r.kind === "isolation" && r.launcher === launcher);
    add(
      `logs, ${launcher}`,
      "restart p50 of another service while 10 flood ≤ 1.5× quiet",
      med(iso.map((r) => r.restart_p50_ratio)),
      1.5,
      le,
      2,
    );
  }
  const ps = logs.filter((r) => r.kind === "ps");
  if (ps.length) add("logs, daemon", "`corral ps` while 10 flood ≤ 1.5× quiet", med(ps.map((r) => r.ratio)), 1.5, le, 2);
  rows.push(...proxyTargetRows(records.filter((r) => r.type === "proxy")));
  return markdownTable(rows, [
    ["driver", "driver", "l"],
    ["target", "target", "l"],
    ["value (median)", "value"],
    ["goal", "goal"],
    ["", "met", "l"],
  ]);
}

/**
 * How each figure grows with n, between the two largest n of the run (500 and
 * 2000 in the full run): the figures at both, and the marginal cost of one more
 * process (the difference over the difference in n), per driver.
 */
function scaleTable(records) {
  const res = records.filter((r) => r.type === "result");
  const ns = [...new Set(res.map((r) => r.n))].sort((a, b) => a - b);
  if (ns.length < 2) return "";
  const [lo, hi] = ns.slice(-2);
  const figures = [
    ["start s", (r) => r.online_s ?? r.start_s, "ms", 1000],
    ["stop s", (r) => r.stop_s, "ms", 1000],
    ["manager RSS MiB", (r) => r.rss_mib, "KiB", 1024],
    ["restart p50 ms", (r) => r.restart?.p50_ms, "µs", 1000],
    ["idle CPU ms per 10 s", (r) => (r.idle_cpu_s == null ? null : (10_000 * r.idle_cpu_s) / r.idle_wall_s), "µs", 1000],
    ["fetchServiceMetrics ms", (r) => r.metrics?.p50_ms, "µs", 1000],
  ];
  const rows = [];
  for (const d of [...new Set(res.map((r) => r.driver))]) {
    for (const [figure, fn, unit, scale] of figures) {
      const at = (n) => med(res.filter((r) => r.driver === d && r.n === n).map(fn));
      const a = at(lo);
      const b = at(hi);
      if (a == null && b == null) continue;
      rows.push({
        driver: d,
        figure,
        lo: a == null ? "-" : String(round(a, 3)),
        hi: b == null ? "-" : String(round(b, 3)),
        growth: a && b != null ? `${round(b / a, 2)}×` : "-",
        marginal: a != null && b != null ? `${round(((b - a) * scale) / (hi - lo), 2)} ${unit}` : "-",
      });
    }
  }
  return (
    `### Scale: from n = ${lo} to n = ${hi}\n\nMedians at each n; "per process" = (figure at ${hi} − figure at ${lo}) ÷ ${hi - lo}, what one more managed process costs.\n\n` +
    markdownTable(rows, [
      ["driver", "driver", "l"],
      ["figure", "figure", "l"],
      [`n = ${lo}`, "lo"],
      [`n = ${hi}`, "hi"],
      ["growth", "growth"],
      ["per process", "marginal"],
    ])
  );
}

function report(records, meta) {
  const parts = [];
  const m = meta;
  parts.push(`Machine: ${m.nproc} cores (${m.cpu_model}), ${m.mem_gib} GiB, Linux ${m.kernel}, Node ${m.node}, CLK_TCK ${m.clk_tck}.`);
  parts.push(
    `Peers: ${Object.entries(m.peers ?? {})
      .map(([k, v]) => `${k}: ${v ?? "?"}`)
      .join("; ")}. corral at ${m.git}.`,
  );
  parts.push(
    `Options: n=${m.opts.n}, repeat=${m.opts.repeat}${m.opts.largeN ? ` (n ≥ ${m.opts.largeN}: ${m.opts.largeRepeat}, no answer phase)` : ""}, k=${m.opts.k} kills, idle ${m.opts.idle} s, managed command \`${m.command}\`; socket children: ${m.socket_command}.`,
  );
  const out = [parts.join("\n")];
  out.push(
    "### Every figure: corral against raw Node and the peers\n\nCells: median (min–max) over the repeats. The ratio columns divide corral's median by each other driver's median (< 1: corral is lower).\n\n" +
      comparisonTable(records),
  );
  out.push("### Targets of issue 18 (n = 500, same run)\n\n" + targetsTable(records));
  const scale = scaleTable(records);
  if (scale) out.push(scale);
  if (records.some((r) => r.type === "result"))
    out.push("### Shared harness table (same records, run.mjs's summary)\n\n" + summarizeRun(records));
  if (records.some((r) => r.type === "result" && r.driver?.startsWith("corral")))
    out.push("### corral's own view\n\n" + corralDetailTable(records));
  if (records.some((r) => r.type === "proxy")) {
    out.push(
      "### TCP → Unix-socket proxy (proxy.mjs; `corral` = the library's TcpProxy in its own Node process)\n\n" + summarizeProxy(records),
    );
    const t = proxyRatioTable(records);
    if (t) out.push("corral's proxy divided by each other target (medians):\n\n" + t);
  }
  const cli = cliTable(records, round);
  if (cli) out.push(cli);
  const roll = rollTable(records);
  if (roll) out.push(roll);
  const logs = logFloodTable(records, round);
  if (logs) out.push(logs);
  const imports = records.filter((r) => r.type === "import");
  if (imports.length > 0) {
    const lines = [
      "### Import of the package root (import-cost.mjs; medians of fresh processes)",
      "",
      "| entry | import, ms | process start to exit, bare / with the import, ms | RSS, bare / with the import, MiB | CPU above bare, ms |",
      "|:---|---:|---:|---:|---:|",
      ...imports.map(
        (r) =>
          `| ${r.entry.split("/").slice(-2).join("/")} | ${round(r.import_ms, 1)} | ${round(r.bare_process_ms, 1)} / ${round(r.import_process_ms, 1)} | ${round(r.bare_rss_mib, 1)} / ${round(r.import_rss_mib, 1)} (+${round(r.import_rss_delta_mib, 1)}) | ${round(r.import_cpu_delta_ms, 1)} |`,
      ),
    ];
    out.push(lines.join("\n"));
  }
  const errs = records.filter((r) => r.errors?.length);
  if (errs.length)
    out.push(
      "### Errors\n\n" +
        errs.map((r) => `- ${r.type} ${r.driver ?? r.target ?? ""} n=${r.n ?? "-"} rep=${r.rep ?? "-"}: ${r.errors.join("; ")}`).join("\n"),
    );
  return out.join("\n\n");
}

// --------------------------------------------------------------------- main

function build() {
  const t = Date.now();
  const r = spawnSync(
    process.execPath,
    [join(projectRoot, "node_modules/typescript/bin/tsc"), "-p", join(projectRoot, "tsconfig.build.json")],
    { cwd: projectRoot, encoding: "utf8" },
  );
  if (r.status !== 0) {
    // tsc still emits on type errors; a dist that exists is measured, with a warning.
    process.stderr.write(
      `[bench] warning: tsc reported errors (dist/ emitted anyway):\n${(r.stdout || r.stderr).split("\n").slice(0, 5).join("\n")}\n`,
    );
  }
  if (!existsSync(packageRootFile(projectRoot))) throw new Error(`build failed: no ${packageRootFile(projectRoot)}`);
  process.stderr.write(`[bench] built dist/ in ${Date.now() - t} ms\n`);
  return r.status === 0;
}

function resultsMarkdown(records, meta, { final, minutes, doneReps }) {
  const when = (records.at(-1)?.ts ?? new Date().toISOString()).slice(0, 16);
  return (
    [
      "# corral benchmark results",
      "",
      final
        ? `Full run of \`npm run bench\` (finished ${when}Z, ${round(minutes, 1)} min); JSON lines in \`bench/results.jsonl\`.`
        : `PARTIAL: written after ${doneReps} of ${meta.opts.repeat} repetitions (${round(minutes, 1)} min so far).`,
      "Regenerate with `npm run bench` (after `../shared/bench/setup-peers.sh`); `npm run bench -- --quick` for a 2-minute look;",
      "`node bench/run.mjs --report bench/results.jsonl` re-renders this file from the JSON lines (plus bench/NOTES.md).",
      "",
      report(records, meta),
      "",
    ].join("\n") + (existsSync(join(here, "NOTES.md")) ? "\n" + readFileSync(join(here, "NOTES.md"), "utf8") : "")
  );
}

function gitInfo() {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: projectRoot, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: projectRoot, encoding: "utf8" }).trim();
    return `${head}${dirty ? " + uncommitted src changes" : ""}`;
  } catch {
    return "unknown";
  }
}

async function main() {
  const opts = parseArgs(process.argv);
  if (opts.help) {
    console.log(HELP);
    return;
  }
  if (opts.report) {
    const records = readFileSync(opts.report, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const meta = records.find((r) => r.type === "meta" && r.tool?.startsWith("corral"));
    if (!meta) throw new Error(`${opts.report}: no meta record of bench/run.mjs`);
    const minutes = (Date.parse(records.at(-1).ts) - Date.parse(meta.ts)) / 60000;
    const md = resultsMarkdown(records, meta, { final: true, minutes });
    console.log(md);
    if (opts.resultsMd) writeFileSync(opts.resultsMd, md);
    return;
  }
  installExitHandlers();
  mkdirSync(opts.workdir, { recursive: true });
  const tAll = now();
  const built = opts.build ? build() : null;
  const ns = String(opts.n).split(",").map(Number);
  const names = String(opts.drivers)
    .split(",")
    .filter(Boolean)
    .flatMap((d) => (d === "corral" ? CORRAL : [d]));
  const phases = new Set(String(opts.phases).split(","));
  if (!opts.quick && opts.out === join(here, "results.jsonl")) writeFileSync(opts.out, "");
  const writer = new ResultWriter(resolve(opts.out));

  const drivers = [];
  const versions = {};
  for (const d of await loadDrivers(names)) {
    const ok = d.available ? await d.available() : true;
    if (ok !== true) {
      writer.write({ type: "result", driver: d.name, n: null, errors: [`unavailable: ${ok}`] });
      process.stderr.write(`[bench] skipping ${d.name}: ${ok}\n`);
      continue;
    }
    versions[d.name] = await d.version?.();
    drivers.push(d);
  }
  if (phases.has("proxy"))
    versions.socat = hasCmd("socat") ? execFileSync("socat", ["-V"], { encoding: "utf8" }).match(/socat version (\S+)/)?.[1] : "missing";
  const command = sleepCommand();
  const meta = writer.write({
    type: "meta",
    tool: "corral bench/run.mjs",
    ...machineFacts(),
    peers: versions,
    command: command.argv.join(" "),
    socket_command: socketCommand("<dir>").argv.join(" "),
    git: gitInfo(),
    build_clean: built,
    corral_host: "bench/corral-host.mjs on dist/",
    shared: sharedDir,
    opts,
  });

  const writeReport = (final) => {
    if (!opts.resultsMd) return;
    writeFileSync(opts.resultsMd, resultsMarkdown(writer.records, meta, { final, minutes: secSince(tAll) / 60, doneReps }));
    process.stderr.write(`[bench] wrote ${opts.resultsMd}\n`);
  };
  let doneReps = 0;
  if (phases.has("proxy")) {
    process.stderr.write(`[bench] proxy phase (shared proxy.mjs + corral's TcpProxy)\n`);
    await runProxy(opts, writer);
  }
  for (let rep = 1; rep <= opts.repeat; rep++, doneReps++, writeReport(false)) {
    for (const n of ns) {
      // A large n (2000 in the full run) is measured in fewer repeats and without the socket children:
      // on 2 cores PM2 alone needs minutes per repeat to start and stop 2000.
      const large = n >= opts.largeN;
      if (large && rep > opts.largeRepeat) continue;
      if (phases.has("run")) {
        for (const d of drivers) {
          process.stderr.write(`[bench] rep ${rep} ${d.name} n=${n} ... `);
          const t = now();
          const rec = await measure(d, n, rep, opts, command);
          rec.total_s = secSince(t);
          writer.write(rec);
          process.stderr.write(
            `start ${round(rec.start_s, 3)} s${rec.online_s != null ? ` (online ${round(rec.online_s, 3)} s)` : ""}, rss ${round(rec.rss_mib, 1)} MiB, restart p50 ${round(rec.restart?.p50_ms, 1)} p95 ${round(rec.restart?.p95_ms, 1)} ms, stop ${round(rec.stop_s, 3)} s, idle ${round(rec.idle_cpu_s * 1000, 1)} ms${rec.metrics ? `, metrics ${round(rec.metrics.p50_ms, 1)} ms, watch p50 ${round(rec.watch?.p50_ms, 2)} ms` : ""}${rec.errors.length ? " ERRORS: " + rec.errors.join("; ") : ""} [${round(rec.total_s, 1)} s]\n`,
          );
          await sleep(300);
        }
      }
      if (phases.has("answer") && !large) {
        for (const d of drivers) {
          process.stderr.write(`[bench] rep ${rep} answer ${d.name} n=${n} ... `);
          const rec = await measureAnswer(d, n, rep, opts);
          writer.write(rec);
          process.stderr.write(
            `start ${round(rec.start_s, 3)} s, answering ${round(rec.answer_s, 3)} s${rec.errors.length ? " ERRORS: " + rec.errors.join("; ") : ""}\n`,
          );
          await sleep(300);
        }
      }
      if (phases.has("adopt")) {
        for (const d of drivers.filter(isCorral)) {
          process.stderr.write(`[bench] rep ${rep} adopt ${d.name} n=${n} ... `);
          const rec = await measureAdopt(d, n, rep, opts, command);
          writer.write(rec);
          process.stderr.write(
            `adopt ${round(rec.adopt_s, 3)} s (create→online ${round(rec.adopt_internal_ms, 1)} ms), stop ${round(rec.stop_adopted_s, 3)} s${rec.errors.length ? " ERRORS: " + rec.errors.join("; ") : ""}\n`,
          );
          await sleep(300);
        }
      }
    }
  }
  if (phases.has("cli")) {
    process.stderr.write(`[bench] cli latency, ps at n=${opts.cliN} ... `);
    const rec = await measureCliLatency({ projectRoot, workdir: opts.workdir, n: Number(opts.cliN), reps: Number(opts.cliReps) });
    writer.write(rec);
    process.stderr.write(
      rec.errors.length
        ? `ERRORS: ${rec.errors.join("; ")}\n`
        : `bare ${round(rec.bare_ms, 1)} ms, --help ${round(rec.help_ms, 1)} ms (${round(rec.help_ratio, 2)}x), ps ${round(rec.ps_ms, 1)} ms (${round(rec.ps_ratio, 2)}x bare+request ${round(rec.bare_request_ms, 1)} ms)\n`,
    );
  }
  if (phases.has("logs")) {
    process.stderr.write(`[bench] log floods (log-flood.mjs)\n`);
    try {
      await measureLogFlood({
        workdir: opts.workdir,
        quick: opts.quick, // 128 MiB, 1 repeat, k = 8; full: 1 GiB, 3 repeats, k = 20
        onRecord: (rec) => {
          writer.write(rec);
          process.stderr.write(
            `[bench] logs ${rec.kind} ${rec.target ?? rec.launcher ?? ""}${rec.errors.length ? " ERRORS: " + rec.errors.join("; ") : ""}\n`,
          );
        },
      });
    } catch (error) {
      writer.write({ type: "logs", kind: "error", errors: [String(error?.message ?? error)] });
    }
  }
  if (phases.has("import")) {
    process.stderr.write(`[bench] import of the package root (import-cost.mjs)\n`);
    try {
      // The bundled root users import, and the same modules as tsc wrote them (what bundling saves).
      for (const entry of [packageRootFile(projectRoot), join(projectRoot, "dist", "index.js")])
        writer.write(measureImportCost({ projectRoot, reps: opts.quick ? 5 : 15, entry }));
    } catch (error) {
      writer.write({ type: "import", errors: [String(error?.message ?? error)] });
    }
  }
  if (phases.has("roll")) {
    process.stderr.write(`[bench] rolling changes under load (roll.mjs)\n`);
    try {
      for (const rec of await measureRoll({ workdir: opts.workdir, quick: opts.quick })) writer.write(rec);
    } catch (error) {
      writer.write({ type: "roll", errors: [String(error?.message ?? error)] });
    }
  }
  const total = secSince(tAll);
  console.log(report(writer.records, meta));
  process.stderr.write(`[bench] done in ${round(total, 1)} s; JSON lines: ${opts.out}\n`);
  writeReport(true);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e?.stack || e);
    process.exit(1);
  },
);
