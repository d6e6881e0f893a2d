#!/usr/bin/env node
// The `logs` phase: what a process that floods its logs costs, and whom.
//   throughput  one process writes --mib MiB of 128-byte lines as fast as it can (1 MiB writeSync calls)
//               file         the program's stdout is the file itself (the floor: no capture at all)
//               cat          program | cat > file (a capture through a pipe that does nothing else)
//               corral       the library's ProcessOrchestrator from dist/, suppressOutput, default rotation
//               pm2, pm2-time, supervisord   the same program under the peers (when installed), their default rotation
//               MiB/s from the program's first byte (it records CLOCK_MONOTONIC at start) until the
//               capture's file ends with the program's last line; the manager's CPU seconds per GiB
//   isolation   another service's restart p50 (SIGKILL until online again), fetchServiceMetrics p50,
//               one event-loop turn + processStatuses p50 and how late a 2 ms timer fires (p99), first with
//               nothing else running, then while --floods processes flood as fast as they can;
//               the ratios flood / quiet (target ≤ 1.5x) and the bytes corral took in meanwhile;
//               and `corral ps` p50 against a daemon (corral up -d, this build's bin/) before and after
//               --floods flooding processes join it
// Reps alternate the targets, so a burst of load hits all of them alike.
//
//   node bench/log-flood.mjs                  1 GiB, every target, both launchers, 3 repeats (~6 min)
//   node bench/log-flood.mjs --quick          128 MiB, fewer restarts (< 1 min)
//   node bench/log-flood.mjs --dist DIR       another build of corral (a dist/ whose ../node_modules resolves)
//   node bench/log-flood.mjs --help
// As a library: measureLogFlood(options) -> records (type "logs"), logFloodTable(records, round) -> Markdown.
// The program that floods is this file: `node bench/log-flood.mjs --emit BYTES [--t0 FILE] [--linger]`.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SELF = fileURLToPath(import.meta.url);
const here = dirname(SELF);
const projectRoot = resolve(here, "..");
const LINE_BYTES = 128;
const BLOCK_LINES = 8192; // 1 MiB per write
const PEERS_DIR = process.env.BENCH_PEERS_DIR || "/tmp/bench-peers";
const PM2_BIN = join(PEERS_DIR, "node_modules", "pm2", "bin", "pm2");

const HELP = `usage: node bench/log-flood.mjs [options]
  --quick                   128 MiB, k = 8 restarts per window
  --mib 1024                MiB the throughput program writes
  --targets file,cat,corral,pm2,pm2-time,supervisord
  --phases throughput,isolation,ps
  --floods 10               processes flooding during the isolation window
  --k 20                    restarts (and metrics/status reads) per isolation window
  --launchers direct,cgroup corral launchers of the isolation phase
  --repeat 3                runs of every target (medians; 1 with --quick)
  --dist DIR                corral's build (default: dist/ of this checkout)
  --workdir /tmp/bench-work --out FILE.jsonl (append one JSON line per record)`;

// ---------------------------------------------------------------------------
// The flooding program.

/** Writes all of `data` to `fd`; a non-blocking pipe's EAGAIN waits 1 ms (the capture is behind). */
function writeAll(fd, data) {
  for (let at = 0; at < data.length;) {
    try {
      at += writeSync(fd, data, at, data.length - at);
    } catch (error) {
      if (error?.code !== "EAGAIN") throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

function emit(argv) {
  const bytes = Number(argv[argv.indexOf("--emit") + 1]); // 0: for ever
  const t0 = argv.includes("--t0") ? argv[argv.indexOf("--t0") + 1] : null;
  if (t0) writeFileSync(t0, String(process.hrtime.bigint()));
  const line = Buffer.alloc(LINE_BYTES, "x");
  line.write(`flood ${process.pid} `);
  line[LINE_BYTES - 1] = 10;
  const block = Buffer.alloc(LINE_BYTES * BLOCK_LINES);
  for (let i = 0; i < BLOCK_LINES; i++) line.copy(block, i * LINE_BYTES);
  for (let left = bytes === 0 ? Infinity : bytes; left > 0; left -= block.length)
    writeAll(1, left >= block.length ? block : block.subarray(0, left));
  writeAll(1, Buffer.from(`flood-end ${bytes}\n`));
  if (argv.includes("--linger")) setInterval(() => {}, 1 << 30);
}

// ---------------------------------------------------------------------------
// Helpers.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hr = () => process.hrtime.bigint();
const msSince = (t) => Number(hr() - t) / 1e6;
const p50 = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : null);
const median = (xs) => p50(xs.filter((x) => x != null && Number.isFinite(x)));
const CLK_TCK = 100;

/**
 * How late a 2 ms timer fires, sampled back to back until stop(): what any
 * callback of this event loop (a request, a child's exit) waits on top of its own work.
 */
function lateness() {
  const late = [];
  let timer;
  let stopped = false;
  const tick = () => {
    const t = hr();
    timer = setTimeout(() => {
      late.push(Math.max(0, msSince(t) - 2));
      if (!stopped) tick();
    }, 2);
  };
  tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      const sorted = late.sort((a, b) => a - b);
      return { p99: sorted[Math.floor(sorted.length * 0.99)] ?? null, max: sorted.at(-1) ?? null };
    },
  };
}

/** utime + stime of a process in seconds; null when it is gone. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Bytes this process has written through write(2) and friends (every thread, the libuv pool's included). */
function writtenBytes() {
  const match = /^wchar: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"));
  return match ? Number(match[1]) : 0;
}

/** Whether `file` ends with `suffix` (its last bytes), read without loading it. */
function endsWith(file, suffix) {
  let fd;
  try {
    fd = openSync(file, "r");
  } catch {
    return false;
  }
  try {
    const size = fstatSync(fd).size;
    const want = Buffer.from(suffix);
    if (size < want.length) return false;
    const tail = Buffer.alloc(want.length);
    readSync(fd, tail, 0, want.length, size - want.length);
    return tail.equals(want);
  } finally {
    closeSync(fd);
  }
}

/** Polls every 5 ms until `condition` holds; the bound only keeps a broken run from hanging. */
async function until(condition, what, boundMs) {
  const deadline = Date.now() + boundMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${boundMs} ms`);
    await sleep(5);
  }
}

const isAlive = (pid) => {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

function hasCommand(cmd) {
  try {
    return !!execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim();
  } catch {
    return false;
  }
}

function run(cmd, args, opts = {}) {
  return new Promise((res) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
    let out = "";
    let err = "";
    child.stdout?.on("data", (d) => (out += d));
    child.stderr?.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      res({ code, out, err });
    });
  });
}

const emitArgs = (bytes, t0) => [SELF, "--emit", String(bytes), ...(t0 ? ["--t0", t0] : []), "--linger"];
const endLine = (bytes) => `flood-end ${bytes}\n`;
const readT0 = (file) => BigInt(readFileSync(file, "utf8"));

// ---------------------------------------------------------------------------
// Throughput, one target at a time.

async function loadCorral(distDir) {
  return import(pathToFileURL(join(distDir, "process", "index.js")).href);
}

function orchestratorConfig(dir, tag, launcher) {
  return {
    imageDir: dir,
    environmentId: `bench-logs-${process.pid}-${tag}`,
    scratchDirectory: join(dir, "scratch"),
    secretsDir: join(dir, "secrets"),
    stateDir: join(dir, "state"),
    suppressOutput: true,
    launcher,
    restartBackoff: { initialMs: 0, maxMs: 0, multiplier: 1, jitter: 0, resetAfterMs: 0 },
  };
}

const THROUGHPUT = {
  /** The program's stdout is the file: no capture, the disk's and the program's own floor. */
  async file({ dir, bytes, t0 }) {
    const out = join(dir, "file.log");
    const r = await run(
      "sh",
      ["-c", `exec "$0" "$@" > ${JSON.stringify(out)}`, process.execPath, SELF, "--emit", String(bytes), "--t0", t0],
      {
        timeoutMs: 600_000,
      },
    );
    const end = hr();
    if (r.code !== 0) throw new Error(`file: exited ${r.code}: ${r.err}`);
    return { end, files: [out] };
  },

  /** program | cat > file: a pipe and a reader that does nothing but copy. */
  async cat({ dir, bytes, t0 }) {
    const out = join(dir, "cat.log");
    const r = await run(
      "sh",
      ["-c", `"$0" "$@" | cat > ${JSON.stringify(out)}`, process.execPath, SELF, "--emit", String(bytes), "--t0", t0],
      {
        timeoutMs: 600_000,
      },
    );
    const end = hr();
    if (r.code !== 0) throw new Error(`cat: exited ${r.code}: ${r.err}`);
    return { end, files: [out] };
  },

  async corral({ dir, bytes, t0, distDir, launcher, seq }) {
    const lib = await loadCorral(distDir);
    const orchestrator = await lib.ProcessOrchestrator.create(orchestratorConfig(dir, `t${seq}`, launcher));
    const ns = orchestrator.namespace("flood");
    const log = join(dir, "state", "logs", "flood-one-0.log");
    let loop;
    try {
      const cpu0 = process.cpuUsage();
      loop = lateness();
      await ns.ensureService("one", { image: process.execPath, args: () => emitArgs(bytes, t0), scale: 1 });
      await until(() => endsWith(log, ` stdout ${endLine(bytes)}`), "corral to log the last line", 600_000);
      const end = hr();
      const late = loop.stop();
      const cpu = process.cpuUsage(cpu0);
      return { end, cpuS: (cpu.user + cpu.system) / 1e6, loopP99Ms: late.p99, loopMaxMs: late.max };
    } finally {
      loop?.stop();
      await ns.dropService("one").catch(() => {});
      await orchestrator.close();
    }
  },

  async pm2({ dir, bytes, t0, time = false }) {
    const home = join(dir, "pm2home");
    mkdirSync(home, { recursive: true });
    const env = { ...process.env, PM2_HOME: home, PM2_DISABLE_VERSION_CHECK: "true", PM2_NO_INTERACTION: "true" };
    const pm2 = (args) => run(process.execPath, [PM2_BIN, ...args], { env, cwd: dir, timeoutMs: 120_000 });
    const out = join(dir, "pm2-out.log");
    const eco = join(dir, "ecosystem.config.json");
    writeFileSync(
      eco,
      JSON.stringify({
        apps: [
          {
            name: "flood",
            script: process.execPath,
            args: emitArgs(bytes, t0),
            interpreter: "none",
            exec_mode: "fork",
            autorestart: false,
            out_file: out,
            error_file: join(dir, "pm2-err.log"),
            merge_logs: true,
            time,
          },
        ],
      }),
    );
    let daemon = null;
    try {
      const ping = await pm2(["ping"]);
      if (ping.code !== 0) throw new Error(`pm2 ping exited ${ping.code}: ${ping.err}`);
      daemon = Number(readFileSync(join(home, "pm2.pid"), "utf8"));
      const cpu0 = cpuSeconds(daemon);
      const started = await pm2(["start", eco]);
      if (started.code !== 0) throw new Error(`pm2 start exited ${started.code}: ${started.err}`);
      await until(() => endsWith(out, endLine(bytes)), "pm2 to log the last line", 600_000);
      const end = hr();
      return { end, cpuS: cpuSeconds(daemon) - cpu0 };
    } finally {
      await pm2(["kill"]);
      if (daemon && isAlive(daemon)) process.kill(daemon, "SIGKILL");
    }
  },

  async supervisord({ dir, bytes, t0 }) {
    const out = join(dir, "sup-out.log");
    const conf = join(dir, "supervisord.conf");
    const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
    writeFileSync(
      conf,
      [
        "[unix_http_server]",
        `file=${join(dir, "supervisor.sock")}`,
        "[supervisord]",
        `logfile=${join(dir, "supervisord.log")}`,
        `pidfile=${join(dir, "supervisord.pid")}`,
        `childlogdir=${dir}`,
        "nodaemon=true",
        "loglevel=warn",
        "user=root",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "[program:flood]",
        `command=${[process.execPath, ...emitArgs(bytes, t0)].map(quote).join(" ").replace(/%/g, "%%")}`,
        "autostart=true",
        "autorestart=false",
        "startsecs=0",
        `stdout_logfile=${out}`,
        `stderr_logfile=${join(dir, "sup-err.log")}`,
        "",
      ].join("\n"),
    );
    const sup = spawn("supervisord", ["-n", "-c", conf], { stdio: ["ignore", "ignore", "inherit"], detached: true });
    const exited = new Promise((r) => sup.once("exit", r));
    try {
      await until(() => existsSync(t0), "supervisord to start the program", 60_000);
      const cpu0 = cpuSeconds(sup.pid);
      await until(() => endsWith(out, endLine(bytes)), "supervisord to log the last line", 600_000);
      const end = hr();
      return { end, cpuS: cpuSeconds(sup.pid) - cpu0 };
    } finally {
      sup.kill("SIGTERM");
      const bound = setTimeout(() => {
        try {
          process.kill(-sup.pid, "SIGKILL");
        } catch {}
      }, 15_000);
      await exited;
      clearTimeout(bound);
    }
  },
};
THROUGHPUT["pm2-time"] = (o) => THROUGHPUT.pm2({ ...o, time: true });

function targetAvailable(target) {
  if (target === "pm2" || target === "pm2-time")
    return existsSync(PM2_BIN) || `pm2 not installed at ${PM2_BIN} (../shared/bench/setup-peers.sh)`;
  if (target === "supervisord") return hasCommand("supervisord") || "supervisord not installed (../shared/bench/setup-peers.sh)";
  return true;
}

async function measureThroughput(target, { workdir, bytes, distDir, launcher, rep, seq }) {
  const rec = { type: "logs", kind: "throughput", target, mib: bytes / 2 ** 20, rep, errors: [] };
  const dir = join(workdir, `logs-${process.pid}-${seq}-${target}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const t0 = join(dir, "t0");
  try {
    const r = await THROUGHPUT[target]({ dir, bytes, t0, distDir, launcher, seq });
    rec.seconds = Number(r.end - readT0(t0)) / 1e9;
    rec.mib_s = rec.mib / rec.seconds;
    if (r.cpuS != null) rec.cpu_s_per_gib = r.cpuS / (bytes / 2 ** 30);
    if (r.loopP99Ms != null) {
      rec.loop_p99_ms = r.loopP99Ms;
      rec.loop_max_ms = r.loopMaxMs;
    }
    if (target === "corral") rec.launcher = launcher;
  } catch (error) {
    rec.errors.push(String(error?.message ?? error));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rec;
}

// ---------------------------------------------------------------------------
// Isolation: another service's figures while ten processes flood.

/** Follows one namespace's events: the latest per process, and waiters on them. */
function follow(ns) {
  const latest = new Map();
  let waiters = [];
  const events = ns.watchServices();
  void (async () => {
    for await (const e of events) {
      latest.set(`${e.serviceId}/${e.processId}`, e);
      waiters = waiters.filter((w) => !w(e));
    }
  })();
  return {
    latest,
    next(predicate, boundMs = 30_000) {
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no matching event within ${boundMs} ms`)), boundMs);
        waiters.push((e) => {
          if (!predicate(e)) return false;
          clearTimeout(timer);
          res(e);
          return true;
        });
      });
    },
    stop: () => events.return?.(),
  };
}

/** k restarts of `quiet`, k metrics reads, k status turns, and the event loop's delay meanwhile. */
async function window(ns, watch, k) {
  const restarts = [];
  const metrics = [];
  const status = [];
  const loop = lateness();
  for (let i = 0; i < k; i++) {
    const pid = watch.latest.get("quiet/0")?.pid;
    const back = watch.next((e) => e.serviceId === "quiet" && e.status === "online" && e.pid !== pid);
    const t = hr();
    process.kill(pid, "SIGKILL");
    await back;
    restarts.push(msSince(t));
    await sleep(50);
    const tm = hr();
    await ns.fetchServiceMetrics("quiet");
    metrics.push(msSince(tm));
    const ts = hr();
    await new Promise((r) => setImmediate(r));
    ns.processStatuses();
    status.push(msSince(ts));
    await sleep(50);
  }
  const late = loop.stop();
  return {
    restart_p50_ms: p50(restarts),
    metrics_p50_ms: p50(metrics),
    status_p50_ms: p50(status),
    loop_p99_ms: late.p99,
    loop_max_ms: late.max,
  };
}

async function measureIsolation({ workdir, distDir, launcher, floods, k, rep, seq }) {
  const rec = { type: "logs", kind: "isolation", launcher, floods, k, rep, errors: [] };
  const dir = join(workdir, `logs-iso-${process.pid}-${seq}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let orchestrator;
  let watch;
  try {
    const lib = await loadCorral(distDir);
    orchestrator = await lib.ProcessOrchestrator.create(orchestratorConfig(dir, `i${seq}`, launcher));
    const ns = orchestrator.namespace("iso");
    watch = follow(ns);
    const online = watch.next((e) => e.serviceId === "quiet" && e.status === "online");
    await ns.ensureService("quiet", { image: "/bin/sleep", args: () => ["100000"], scale: 1 });
    await online;
    await window(ns, watch, 2); // warm-up
    rec.quiet = await window(ns, watch, k);
    await ns.ensureService("flood", { image: process.execPath, args: () => emitArgs(0, null), scale: floods });
    await until(
      () => [...Array(floods).keys()].every((i) => watch.latest.get(`flood/${i}`)?.status === "online"),
      "the floods to be online",
      60_000,
    );
    await sleep(500); // every flood's pipe full, the capture at its steady rate
    const w0 = writtenBytes();
    const t0 = hr();
    rec.flood = await window(ns, watch, k);
    rec.ingest_mib_s = (writtenBytes() - w0) / 2 ** 20 / (msSince(t0) / 1000);
    const td = hr();
    await ns.dropService("flood");
    rec.drop_floods_ms = msSince(td);
    for (const figure of ["restart_p50_ms", "metrics_p50_ms", "status_p50_ms", "loop_p99_ms"])
      rec[figure.replace(/_ms$/, "_ratio")] = rec.flood[figure] / rec.quiet[figure];
  } catch (error) {
    rec.errors.push(String(error?.message ?? error));
  } finally {
    watch?.stop();
    await orchestrator?.close().catch((error) => rec.errors.push(`close: ${error?.message ?? error}`));
    rmSync(dir, { recursive: true, force: true });
  }
  return rec;
}

/**
 * p50 ms of `corral ps` (the real CLI against a daemon of this build) and of
 * `node -e 0` (what any new process costs on the machine as it is), `reps` of each, alternating.
 */
function psP50(bin, dir, env, reps) {
  const runs = { ps: [], bare: [] };
  const timed = (name, args) => {
    const t = hr();
    const r = spawnSync(process.execPath, args, { cwd: dir, env, encoding: "utf8", maxBuffer: 64 << 20 });
    runs[name].push(msSince(t));
    if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  };
  for (let i = 0; i < reps; i++) {
    timed("ps", [bin, "ps"]);
    timed("bare", ["-e", "0"]);
  }
  return { ps: p50(runs.ps), bare: p50(runs.bare) };
}

/**
 * `corral ps` against a daemon (corral up -d) supervising a quiet service,
 * then the same daemon once `floods` processes flooding their logs join it.
 */
async function measurePs({ workdir, distDir, floods, reps, rep, seq }) {
  const rec = { type: "logs", kind: "ps", floods, reps, rep, errors: [] };
  const bin = join(distDir, "..", "bin", "corral.js");
  const dir = join(workdir, `logs-ps-${process.pid}-${seq}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" };
  const yaml = (scale) =>
    [
      `environment: bench-logs-ps-${process.pid}-${seq}`,
      "services:",
      "  quiet:",
      "    command: sleep",
      '    args: ["100000"]',
      "  flood:",
      `    command: ${JSON.stringify(process.execPath)}`,
      `    args: ${JSON.stringify(emitArgs(0, null))}`,
      `    scale: ${scale}`,
      "",
    ].join("\n");
  const up = () => {
    const r = spawnSync(process.execPath, [bin, "up", "-d", "--timeout", "120"], { cwd: dir, env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`corral up -d exited ${r.status}: ${r.stderr}`);
  };
  try {
    if (!existsSync(bin)) throw new Error(`no CLI at ${bin}`);
    writeFileSync(join(dir, "corral.yaml"), yaml(0));
    up();
    psP50(bin, dir, env, 2); // warm-up: the page cache
    ({ ps: rec.quiet_ms, bare: rec.quiet_bare_ms } = psP50(bin, dir, env, reps));
    writeFileSync(join(dir, "corral.yaml"), yaml(floods));
    up();
    await sleep(500); // every flood's pipe full, the capture at its steady rate
    ({ ps: rec.flood_ms, bare: rec.flood_bare_ms } = psP50(bin, dir, env, reps));
    rec.ratio = rec.flood_ms / rec.quiet_ms;
    rec.bare_ratio = rec.flood_bare_ms / rec.quiet_bare_ms;
  } catch (error) {
    rec.errors.push(String(error?.message ?? error));
  } finally {
    const down = spawnSync(process.execPath, [bin, "down"], { cwd: dir, env, encoding: "utf8", timeout: 120_000 });
    if (down.status !== 0) rec.errors.push(`corral down exited ${down.status}: ${down.stderr}`);
    rmSync(dir, { recursive: true, force: true });
  }
  return rec;
}

// ---------------------------------------------------------------------------

/**
 * Every record of the logs phase, in one run: throughput per target (and
 * repeat, targets alternating), then isolation per launcher.
 */
export async function measureLogFlood({
  workdir = "/tmp/bench-work",
  distDir = join(projectRoot, "dist"),
  quick = false,
  mib = quick ? 128 : 1024,
  targets = ["file", "cat", "corral", "pm2", "pm2-time", "supervisord"],
  phases = ["throughput", "isolation", "ps"],
  floods = 10,
  k = quick ? 8 : 20,
  launchers = ["direct", "cgroup"],
  psReps = quick ? 5 : 15,
  repeat = quick ? 1 : 3,
  onRecord = () => {},
} = {}) {
  mkdirSync(workdir, { recursive: true });
  const records = [];
  const push = (rec) => {
    records.push(rec);
    onRecord(rec);
  };
  let seq = 0;
  if (phases.includes("throughput")) {
    const runnable = [];
    for (const target of targets) {
      const ok = targetAvailable(target);
      if (ok === true) runnable.push(target);
      else push({ type: "logs", kind: "throughput", target, mib, errors: [`skipped: ${ok}`] });
    }
    for (let rep = 1; rep <= repeat; rep++)
      for (const target of runnable)
        push(await measureThroughput(target, { workdir, bytes: mib * 2 ** 20, distDir, launcher: launchers[0], rep, seq: ++seq }));
  }
  for (let rep = 1; rep <= repeat; rep++) {
    if (phases.includes("isolation"))
      for (const launcher of launchers) push(await measureIsolation({ workdir, distDir, launcher, floods, k, rep, seq: ++seq }));
    if (phases.includes("ps")) push(await measurePs({ workdir, distDir, floods, reps: psReps, rep, seq: ++seq }));
  }
  return records;
}

/** The Markdown tables of the logs records (medians over repeats). */
export function logFloodTable(
  records,
  round = (x, d = 2) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d),
) {
  const logs = records.filter((r) => r.type === "logs");
  if (logs.length === 0) return "";
  const out = [];
  const through = logs.filter((r) => r.kind === "throughput");
  if (through.length) {
    const ok = through.filter((r) => r.errors.length === 0);
    const order = [...new Set(through.map((r) => r.target))];
    const floor = median(ok.filter((r) => r.target === "cat").map((r) => r.mib_s));
    const corral = median(ok.filter((r) => r.target === "corral").map((r) => r.mib_s));
    const lines = [
      "| target | MiB | MiB/s | s | manager CPU s/GiB | corral / target | note |",
      "|---|---|---|---|---|---|---|",
      ...order.map((target) => {
        const rows = ok.filter((r) => r.target === target);
        const skipped = through.find((r) => r.target === target && r.errors.length);
        if (rows.length === 0) return `| ${target} | | | | | | ${skipped?.errors.join("; ") ?? ""} |`;
        const mibS = median(rows.map((r) => r.mib_s));
        const note =
          target === "corral"
            ? `launcher ${rows[0].launcher}; timer lateness p99 ${round(median(rows.map((r) => r.loop_p99_ms)), 1)} ms, max ${round(median(rows.map((r) => r.loop_max_ms)), 1)} ms`
            : target === "pm2-time"
              ? "pm2 with --time (timestamped lines, as corral's)"
              : target === "cat"
                ? "program | cat > file"
                : target === "file"
                  ? "program > file (no capture)"
                  : "";
        return `| ${target} | ${rows[0].mib} | ${round(mibS, 1)} | ${round(median(rows.map((r) => r.seconds)), 2)} | ${round(median(rows.map((r) => r.cpu_s_per_gib)), 2) ?? ""} | ${round(corral / mibS, 2) ?? ""} | ${note} |`;
      }),
    ];
    out.push(
      `### Log throughput (one process writing 128-byte lines as fast as it can; cat floor ${round(floor, 1)} MiB/s)\n\n${lines.join("\n")}\n`,
    );
  }
  const iso = logs.filter((r) => r.kind === "isolation" || r.kind === "ps");
  if (iso.length) {
    const ok = iso.filter((r) => r.kind === "isolation" && r.errors.length === 0);
    const launchers = [...new Set(ok.map((r) => r.launcher))];
    const fig = (rows, phase, f) => round(median(rows.map((r) => r[phase][f])), 2);
    const lines = [
      "| launcher | floods | restart p50 ms quiet → flood | ratio (≤ 1.5) | fetchServiceMetrics p50 ms | ratio (≤ 1.5) | loop turn + status p50 ms | ratio | 2 ms timer late p99 ms | ratio | ingest MiB/s | stop floods ms |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|",
      ...launchers.map((launcher) => {
        const rows = ok.filter((r) => r.launcher === launcher);
        const ratio = (f) => round(median(rows.map((r) => r[f])), 2);
        return `| ${launcher} | ${rows[0].floods} | ${fig(rows, "quiet", "restart_p50_ms")} → ${fig(rows, "flood", "restart_p50_ms")} | ${ratio("restart_p50_ratio")} | ${fig(rows, "quiet", "metrics_p50_ms")} → ${fig(rows, "flood", "metrics_p50_ms")} | ${ratio("metrics_p50_ratio")} | ${fig(rows, "quiet", "status_p50_ms")} → ${fig(rows, "flood", "status_p50_ms")} | ${ratio("status_p50_ratio")} | ${fig(rows, "quiet", "loop_p99_ms")} → ${fig(rows, "flood", "loop_p99_ms")} | ${ratio("loop_p99_ratio")} | ${round(median(rows.map((r) => r.ingest_mib_s)), 1)} | ${round(median(rows.map((r) => r.drop_floods_ms)), 0)} |`;
      }),
    ];
    const ps = logs.filter((r) => r.kind === "ps" && r.errors.length === 0);
    if (ps.length)
      lines.push(
        `| daemon: \`corral ps\` (p50 of ${ps[0].reps}; \`node -e 0\` ${round(median(ps.map((r) => r.quiet_bare_ms)), 1)} → ${round(median(ps.map((r) => r.flood_bare_ms)), 1)} ms, ${round(median(ps.map((r) => r.bare_ratio)), 2)}x) | ${ps[0].floods} | | | | | ${round(median(ps.map((r) => r.quiet_ms)), 1)} → ${round(median(ps.map((r) => r.flood_ms)), 1)} | ${round(median(ps.map((r) => r.ratio)), 2)} | | | | |`,
      );
    const errs = logs
      .filter((r) => (r.kind === "isolation" || r.kind === "ps") && r.errors.length)
      .map((r) => `- ${r.kind} ${r.launcher ?? ""}: ${r.errors.join("; ")}`);
    out.push(
      `### Log floods: another service while ${ok[0]?.floods ?? "-"} processes flood (medians; ratio = flood / quiet)\n\n${lines.join("\n")}\n${errs.length ? `\n${errs.join("\n")}\n` : ""}`,
    );
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------

function parseArgs(argv) {
  const o = { quick: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") o.quick = true;
    else if (a === "-h" || a === "--help") o.help = true;
    else {
      const m = /^--([a-z-]+)$/.exec(a);
      if (!m) throw new Error(`bad argument ${a}`);
      o[m[1]] = argv[++i];
    }
  }
  return o;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === SELF;
if (isMain && process.argv.includes("--emit")) emit(process.argv);
else if (isMain) {
  const o = parseArgs(process.argv.slice(2));
  if (o.help) {
    console.log(HELP);
    process.exit(0);
  }
  const list = (s) => (s === undefined ? undefined : String(s).split(",").filter(Boolean));
  const options = {
    quick: o.quick,
    ...(o.workdir ? { workdir: o.workdir } : {}),
    ...(o.dist ? { distDir: resolve(o.dist) } : {}),
    ...(o.mib ? { mib: Number(o.mib) } : {}),
    ...(o.targets ? { targets: list(o.targets) } : {}),
    ...(o.phases ? { phases: list(o.phases) } : {}),
    ...(o.floods ? { floods: Number(o.floods) } : {}),
    ...(o.k ? { k: Number(o.k) } : {}),
    ...(o.launchers ? { launchers: list(o.launchers) } : {}),
    ...(o.repeat ? { repeat: Number(o.repeat) } : {}),
    onRecord: (rec) => {
      process.stderr.write(`[logs] ${JSON.stringify(rec)}\n`);
      if (o.out) writeFileSync(o.out, JSON.stringify(rec) + "\n", { flag: "a" });
    },
  };
  measureLogFlood(options).then(
    (records) => {
      console.log(logFloodTable(records));
      process.exit(0);
    },
    (error) => {
      console.error(error?.stack ?? error);
      process.exit(1);
    },
  );
}
