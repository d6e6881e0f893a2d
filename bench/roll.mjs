#!/usr/bin/env node
// Rolling changes under load: an HTTP load generator runs against a 3-process
// service while `corral restart`, a scale 3→1→3 and a rolling env change go
// through, once through the service address (balanced, drained) and once
// through process 0's own address (what a client without the service address
// sees). Each row is one operation under one load generator:
//   wrk -t1 -c16 -d<duration>s --latency   over TCP (the exposed service address; process 0's tcpPerProcess proxy)
//   test/fixtures/load/unix-http-load.mjs  over the Unix sockets (restart only; wrk speaks only TCP)
// The load starts --pre seconds before the operation and stops (SIGINT, so
// wrk prints what it measured) --post seconds after `corral ps` shows it done.
//
//   node bench/roll.mjs                          restart, scale, rolling (~1 min)
//   node bench/roll.mjs --quick                  restart only, < 40 s
//   node bench/roll.mjs --out FILE.jsonl         one JSON line per row (type "roll")
//   node bench/roll.mjs --help
// Needs the built CLI (npm run build: dist/cli/main.js behind bin/corral.js) and wrk.
import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = resolve(here, "..");
const IMAGE = join(projectRoot, "test", "fixtures", "images", "http-graceful.mjs");
const UNIX_LOAD = join(projectRoot, "test", "fixtures", "load", "unix-http-load.mjs");
const CONNECTIONS = 16;

const HELP = `usage: node bench/roll.mjs [options]
  --quick                  restart only, wrk -d20s bound, < 40 s
  --scenarios restart,scale,rolling
  --duration 60            wrk -d (s): only a bound, the load stops when the operation is done
  --pre 1 --post 0.5       s of load before the operation and after it is done
  --repeat 1               runs of every scenario and target
  --drain 300              the service's drainMs (0: what the service address does without the drain)
  --out FILE.jsonl         append one JSON line per row
  --workdir DIR            where the temp project goes (default: the OS temp dir)`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Whether `promise` settles within `ms` (the timer does not outlive it: it would hold the process open). */
async function within(promise, ms) {
  let timer;
  const bound = new Promise((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), bound]);
  } finally {
    clearTimeout(timer);
  }
}
const round = (x, d = 2) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

/** `corral <args>` in the project, asynchronously (the load generators' pipes keep flowing); rejects on a non-zero exit. */
function corralAsync(dir, args, timeoutMs = 120_000) {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(projectRoot, "bin", "corral.js"), ...args], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c) => (err += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", rej);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) res(out.trim());
      else rej(new Error(`corral ${args.join(" ")} exited ${code ?? signal}: ${err.trim() || out.trim()}`));
    });
  });
}

/** wrk's duration units (us, ms, s, m, h) in milliseconds. */
function wrkMs(value, unit) {
  const scale = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 }[unit];
  return scale === undefined ? null : Number(value) * scale;
}

/** The figures of wrk's report (wrk -t1 --latency), stopped by SIGINT or its -d. */
export function parseWrk(out) {
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const latency = (pct) => {
    const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, "m").exec(out);
    return m ? wrkMs(m[1], m[2]) : null;
  };
  const requests = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(out);
  const [connect, read, write, timeout] = socket ? socket.slice(1).map(Number) : [0, 0, 0, 0];
  return {
    requests: requests ? Number(requests[1]) : null,
    load_s: requests ? wrkMs(requests[2], requests[3]) / 1000 : null,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    socket_errors: { connect, read, write, timeout },
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0"),
    p50_ms: latency(50),
    p99_ms: latency(99),
  };
}

/** The PIDs this run started or caused (load generators, the daemon, the services' processes): the only ones cleanup kills. */
class Started {
  constructor(environment) {
    this.environment = environment;
    this.children = new Set();
    this.daemon = null; // { pid, startTime } from .corral/daemon.json
  }
  /** Processes of our environment (corral puts CORRAL_ENVIRONMENT_ID in each one's environment). */
  services() {
    const needle = `CORRAL_ENVIRONMENT_ID=${this.environment}\0`;
    const pids = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/environ`, "latin1").includes(needle)) pids.push(Number(entry));
      } catch {
        // gone, or not ours to read
      }
    }
    return pids;
  }
  /** SIGKILL what is left, the daemon only while its pid still names the process that wrote daemon.json. */
  killLeft() {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    if (this.daemon) {
      try {
        const stat = readFileSync(`/proc/${this.daemon.pid}/stat`, "utf8");
        const starttime = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
        if (starttime === this.daemon.startTime) process.kill(this.daemon.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const pid of this.services()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

/** Load by wrk over TCP until stop(). */
function wrkLoad(started, address, durationS) {
  const wrk = spawn("wrk", ["-t1", `-c${CONNECTIONS}`, `-d${durationS}s`, "--latency", `http://${address}/`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.children.add(wrk);
  let out = "";
  wrk.stdout.setEncoding("utf8").on("data", (c) => (out += c));
  wrk.stderr.setEncoding("utf8").on("data", (c) => (out += c));
  const exited = new Promise((r) => wrk.once("close", r));
  return {
    async stop() {
      const errors = [];
      if (wrk.exitCode === null) wrk.kill("SIGINT"); // wrk stops on SIGINT and prints what it measured so far
      const bound = await within(exited, 10_000);
      if (!bound) {
        wrk.kill("SIGKILL");
        await exited;
        errors.push("wrk did not stop within 10 s of SIGINT");
      }
      started.children.delete(wrk);
      const figures = parseWrk(out);
      if (figures.requests === null) errors.push(`no wrk report: ${out.trim().slice(0, 300)}`);
      return { generator: "wrk", ...figures, errors, raw: out };
    },
  };
}

/** Load by the Node keep-alive loop over a Unix socket until stop(); resolves once it runs. */
async function unixLoad(started, socketPath, durationS) {
  const child = spawn(process.execPath, [UNIX_LOAD, socketPath, String(CONNECTIONS), String(durationS)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  started.children.add(child);
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (c) => (out += c));
  const exited = new Promise((r) => child.once("close", r));
  const t0 = Date.now();
  while (!out.startsWith("running\n")) {
    if (child.exitCode !== null || Date.now() - t0 > 10_000) throw new Error(`the Unix load generator did not start: ${out}`);
    await sleep(20);
  }
  const t = process.hrtime.bigint();
  return {
    async stop() {
      const errors = [];
      child.kill("SIGINT");
      const bound = await within(exited, 10_000);
      const load_s = Number(process.hrtime.bigint() - t) / 1e9;
      if (!bound) {
        child.kill("SIGKILL");
        await exited;
        errors.push("the Unix load generator did not stop within 10 s of SIGINT");
      }
      started.children.delete(child);
      let totals = { ok: 0, failed: 0, errors: {} };
      try {
        totals = JSON.parse(out.slice("running\n".length));
      } catch {
        errors.push(`no report from the Unix load generator: ${out.slice(0, 300)}`);
      }
      const requests = totals.ok + totals.failed;
      return {
        generator: "node-unix-loop",
        requests,
        load_s,
        rps: requests / load_s,
        socket_errors: null,
        loop_errors: totals.errors,
        non2xx: Object.entries(totals.errors)
          .filter(([why]) => why.startsWith("HTTP "))
          .reduce((s, [, n]) => s + n, 0),
        failed: totals.failed,
        p50_ms: null,
        p99_ms: null,
        errors,
      };
    },
  };
}

const corralYaml = (environment, greeting, drainMs) => `environment: ${environment}
services:
  web:
    command: ./http-graceful.mjs
    args: ["%P:http", "%I"]
    ports: [{ name: http, expose: true, tcpPerProcess: true }]
    scale: 3
    readiness: { socket: http, periodMs: 100 }
    drainMs: ${drainMs}ms
    env: { GREETING: ${greeting} }
`;

/**
 * Every scenario × target under load, on one temp project; one record per row.
 * The project is taken down and removed on every exit path: normal return,
 * a throw, and SIGINT/SIGTERM (also when a caller's own handler exits first:
 * the cleanup is synchronous and runs from process 'exit').
 */
export async function measureRoll({
  workdir = tmpdir(),
  quick = false,
  scenarios = quick ? ["restart"] : ["restart", "scale", "rolling"],
  durationS = quick ? 20 : 60,
  preS = quick ? 0.7 : 1,
  postS = 0.5,
  repeat = 1,
  drainMs = 300,
  log = (line) => process.stderr.write(`[roll] ${line}\n`),
} = {}) {
  if (!existsSync(join(projectRoot, "dist", "cli", "main.js"))) throw new Error("npm run build first: no dist/cli/main.js");
  if (spawnSync("sh", ["-c", "command -v wrk"], { encoding: "utf8" }).stdout.trim() === "") throw new Error("wrk is not installed");
  for (const scenario of scenarios)
    if (!["restart", "scale", "rolling"].includes(scenario))
      throw new Error(`--scenarios: unknown scenario "${scenario}" (restart, scale, rolling)`);
  mkdirSync(workdir, { recursive: true });
  const dir = mkdtempSync(join(workdir, "corral-roll-"));
  const environment = `bench-roll-${process.pid}`;
  const started = new Started(environment);
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    for (const child of started.children) child.kill("SIGKILL");
    if (existsSync(join(dir, ".corral", "daemon.json")) || started.daemon) {
      const down = spawnSync(process.execPath, [join(projectRoot, "bin", "corral.js"), "down"], {
        cwd: dir,
        env: { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" },
        encoding: "utf8",
        timeout: 60_000,
      });
      if (down.status !== 0) log(`corral down exited ${down.status ?? down.signal}: ${(down.stderr || down.stdout).trim()}`);
    }
    started.killLeft();
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal) => {
    log(`${signal}: taking the project down`);
    process.exit(130); // the 'exit' listener cleans up
  };
  process.on("exit", cleanup);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const records = [];
  try {
    copyFileSync(IMAGE, join(dir, "http-graceful.mjs"));
    let generation = 0;
    writeFileSync(join(dir, "corral.yaml"), corralYaml(environment, `g${generation}`, drainMs));
    const corral = (...args) => corralAsync(dir, args);
    const web = async () => JSON.parse(await corral("ps", "--json")).filter((r) => r.service === "web");
    /** Polls ps until `done(rows)` (bounded: 60 s). */
    const waitRows = async (what, done) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const rows = await web();
        if (done(rows)) return rows;
        if (Date.now() > deadline)
          throw new Error(`gave up waiting for ${what}: ${JSON.stringify(rows.map((r) => [r.process, r.status, r.pid]))}`);
        await sleep(100);
      }
    };
    const online =
      (n, notPids = new Set()) =>
      (rows) =>
        rows.length === n && rows.every((r) => r.status === "online" && !notPids.has(r.pid));

    await corral("up", "-d");
    const daemon = JSON.parse(readFileSync(join(dir, ".corral", "daemon.json"), "utf8"));
    started.daemon = { pid: daemon.pid, startTime: daemon.startTime };
    await waitRows("3 processes online", online(3));
    const address = { tcp: await corral("port", "web", "http"), unix: await corral("port", "web", "http", "--unix") };

    // Each operation ends when ps shows the state it asked for (new pids where processes are replaced).
    const operations = {
      restart: async (before) => {
        await corral("restart", "web");
        await waitRows("3 new processes online after the restart", online(3, before));
      },
      scale: async () => {
        await corral("scale", "web=1");
        await waitRows("1 process", online(1));
        await corral("scale", "web=3");
        await waitRows("3 processes again", online(3));
      },
      rolling: async (before) => {
        generation++;
        writeFileSync(join(dir, "corral.yaml"), corralYaml(environment, `g${generation}`, drainMs));
        await corral("up", "-d");
        await waitRows("3 new processes online after the rolling change", online(3, before));
      },
    };
    const targets = (scenario) => [
      { target: "service tcp", load: () => wrkLoad(started, address.tcp, durationS) },
      { target: "process 0 tcp", load: async (rows) => wrkLoad(started, rows.find((r) => r.process === 0).tcpAddresses.http, durationS) },
      ...(scenario === "restart"
        ? [
            { target: "service unix", load: () => unixLoad(started, address.unix, durationS) },
            { target: "process 0 unix", load: (rows) => unixLoad(started, rows.find((r) => r.process === 0).addresses.http, durationS) },
          ]
        : []),
    ];

    for (let rep = 1; rep <= repeat; rep++) {
      for (const scenario of scenarios) {
        for (const { target, load } of targets(scenario)) {
          const rows = await waitRows("3 processes online", online(3));
          const running = await load(rows);
          await sleep(preS * 1000);
          const t = process.hrtime.bigint();
          const opErrors = [];
          try {
            await operations[scenario](new Set(rows.map((r) => r.pid)));
          } catch (error) {
            opErrors.push(String(error?.message ?? error));
          }
          const op_s = Number(process.hrtime.bigint() - t) / 1e9;
          await sleep(postS * 1000);
          const { raw, ...figures } = await running.stop();
          const failed = figures.failed ?? Object.values(figures.socket_errors).reduce((s, n) => s + n, 0) + figures.non2xx;
          const rec = {
            ts: new Date().toISOString(),
            type: "roll",
            scenario,
            target,
            rep,
            processes: 3,
            connections: CONNECTIONS,
            drain_ms: drainMs,
            op_s,
            ...figures,
            failed,
            errors: [...opErrors, ...figures.errors],
          };
          if (rec.errors.length && raw) rec.wrk_output = raw;
          records.push(rec);
          log(
            `${scenario} / ${target}: ${rec.requests} requests, ${round(rec.rps, 0)}/s, ${failed} failed${rec.socket_errors ? ` (${JSON.stringify(rec.socket_errors)}, non-2xx ${rec.non2xx})` : ` ${JSON.stringify(rec.loop_errors)}`}, op ${round(op_s, 2)} s${rec.errors.length ? ` ERRORS: ${rec.errors.join("; ")}` : ""}`,
          );
          if (opErrors.length) throw new Error(opErrors.join("; "));
        }
      }
    }
  } finally {
    cleanup();
    process.off("exit", cleanup);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return records;
}

/** The Markdown table of the roll records. */
export function rollTable(records) {
  const rows = records.filter((r) => r.type === "roll" && r.scenario);
  if (rows.length === 0) return "";
  const reps = new Set(rows.map((r) => r.rep)).size > 1;
  const socket = (r) =>
    r.socket_errors
      ? `${r.socket_errors.connect} / ${r.socket_errors.read} / ${r.socket_errors.write} / ${r.socket_errors.timeout}`
      : Object.entries(r.loop_errors ?? {})
          .map(([why, n]) => `${why} ${n}`)
          .join(", ") || "0";
  const lines = [
    `| scenario |${reps ? " rep |" : ""} target | load | operation s | requests | req/s | socket errors (connect / read / write / timeout) | non-2xx | failed | p50 ms | p99 ms |`,
    `|:---|${reps ? "---:|" : ""}:---|:---|---:|---:|---:|:---|---:|---:|---:|---:|`,
    ...rows.map(
      (r) =>
        `| ${r.scenario} |${reps ? ` ${r.rep} |` : ""} ${r.target} | ${r.generator === "wrk" ? "wrk" : "Node loop"} | ${round(r.op_s, 2)} | ${r.requests} | ${round(r.rps, 0)} | ${socket(r)} | ${r.non2xx} | ${r.failed}${r.errors.length ? " (bench error)" : ""} | ${round(r.p50_ms, 2) ?? "-"} | ${round(r.p99_ms, 2) ?? "-"} |`,
    ),
  ];
  return `### Rolling changes under load (3 processes, ${rows[0].connections} connections, drainMs ${[...new Set(rows.map((r) => r.drain_ms))].join(", ")})\n\n${lines.join("\n")}\n`;
}

function parseArgs(argv) {
  const o = {
    quick: false,
    scenarios: null,
    duration: null,
    pre: null,
    post: null,
    repeat: 1,
    drain: null,
    out: null,
    workdir: tmpdir(),
    help: false,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-h" || a === "--help") o.help = true;
    else if (a === "--quick") o.quick = true;
    else {
      const m = /^--([a-z]+)(?:=(.*))?$/.exec(a);
      if (!m || !(m[1] in o)) throw new Error(`unknown option ${a} (--help)`);
      o[m[1]] = m[2] ?? argv[++i];
    }
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv);
  if (o.help) return console.log(HELP);
  const num = (v) => (v == null ? undefined : Number(v));
  const t = Date.now();
  const records = await measureRoll({
    quick: o.quick,
    workdir: o.workdir,
    scenarios: o.scenarios ? o.scenarios.split(",") : undefined,
    durationS: num(o.duration),
    preS: num(o.pre),
    postS: num(o.post),
    repeat: Number(o.repeat),
    drainMs: num(o.drain),
  });
  if (o.out) {
    mkdirSync(dirname(resolve(o.out)), { recursive: true });
    const wrk = spawnSync("wrk", ["-v"], { encoding: "utf8" });
    const meta = {
      type: "meta",
      tool: "corral bench/roll.mjs",
      nproc: cpus().length,
      cpu_model: cpus()[0]?.model,
      node: process.version,
      wrk: /wrk (\S+)/.exec(`${wrk.stdout}${wrk.stderr}`)?.[1] ?? null,
      opts: o,
    };
    for (const r of [meta, ...records]) appendFileSync(o.out, `${JSON.stringify({ ts: new Date().toISOString(), ...r })}\n`);
  }
  console.log(rollTable(records));
  process.stderr.write(`[roll] done in ${round((Date.now() - t) / 1000, 1)} s${o.out ? `; JSON lines: ${o.out}` : ""}\n`);
  if (records.some((r) => r.errors.length)) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e?.stack || e);
    process.exit(1);
  });
}
