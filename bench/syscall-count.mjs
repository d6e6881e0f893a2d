#!/usr/bin/env node
// Where corral's per-process cost goes, in syscalls (issue 18, item 6: a miss
// is explained by a count, not a guess). Runs under `strace -f -c`:
//   raw     a Node loop that spawns n `sleep`s, then SIGTERMs them all
//   corral  an orchestrator (the package root, launcher given) that starts n,
//           reads metrics twice, then drops the service; once at n and once at 1,
//           so (count at n − count at 1) ÷ (n − 1) is what one more process costs
// and prints the syscalls per managed process for both, the largest excesses first.
// `strace -f` follows the children, so both sides include the `sleep`s' own exec
// (the same program, so it cancels in the difference).
//   node bench/syscall-count.mjs [--n 500] [--launcher direct|cgroup] [--json]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { packageRootFile } from "./package-root.mjs";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const RAW = `
import { spawn } from "node:child_process";
const n = Number(process.argv[2]);
const kids = [];
for (let i = 0; i < n; i++) kids.push(spawn("/usr/bin/sleep", ["100000"], { stdio: "ignore", detached: true }));
await Promise.all(kids.map((k) => new Promise((r) => k.once("spawn", r))));
await Promise.all(kids.map((k) => new Promise((r) => { k.once("exit", r); k.kill("SIGTERM"); })));
`;

const CORRAL = `
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
const [url, n, launcher] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const { ProcessOrchestrator } = await import(url);
const w = mkdtempSync("/tmp/corral-syscalls-");
const o = await ProcessOrchestrator.create({ imageDir: w, environmentId: "syscalls-" + process.pid, scratchDirectory: join(w, "s"),
  secretsDir: join(w, "sec"), stateDir: join(w, "st"), suppressOutput: true, launcher });
const ns = o.namespace("b");
let online = 0, all;
const allOnline = new Promise((r) => (all = r));
(async () => { for await (const e of ns.watchServices()) if (e.status === "online" && ++online >= n) all(); })();
await ns.ensureService("s", { image: "/usr/bin/sleep", args: () => ["100000"], scale: n });
await allOnline;
await ns.fetchServiceMetrics("s");
await ns.fetchServiceMetrics("s");
await ns.dropService("s");
await o.close();
rmSync(w, { recursive: true, force: true });
process.exit(0);
`;

function counts(script, args, dir) {
  const file = join(dir, `probe-${Math.random().toString(16).slice(2)}.mjs`);
  const out = join(dir, `${Math.random().toString(16).slice(2)}.strace`);
  writeFileSync(file, script);
  const r = spawnSync("strace", ["-f", "-c", "-o", out, process.execPath, file, ...args], { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`strace ${args.join(" ")}: exit ${r.status} ${r.stderr}`);
  const calls = new Map();
  for (const line of readFileSync(out, "utf8").split("\n")) {
    const cols = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors,] syscall; the "total" row is not a syscall.
    if (cols.length < 5 || !/^\d/.test(cols[0]) || cols.at(-1) === "total") continue;
    calls.set(cols.at(-1), Number(cols[3]));
  }
  return calls;
}

export function measureSyscalls({ n = 500, launcher = "direct" } = {}) {
  execFileSync("strace", ["-V"], { stdio: "ignore" });
  const dir = mkdtempSync(join(tmpdir(), "corral-syscalls-"));
  try {
    const url = pathToFileURL(packageRootFile(projectRoot)).href;
    const raw = counts(RAW, [String(n)], dir);
    const big = counts(CORRAL, [url, String(n), launcher], dir);
    const one = counts(CORRAL, [url, "1", launcher], dir);
    const names = new Set([...raw.keys(), ...big.keys()]);
    const rows = [...names].map((name) => ({
      syscall: name,
      corral: ((big.get(name) ?? 0) - (one.get(name) ?? 0)) / (n - 1),
      raw: (raw.get(name) ?? 0) / n,
    }));
    rows.sort((a, b) => b.corral - b.raw - (a.corral - a.raw));
    const sum = (k) => rows.reduce((s, r) => s + r[k], 0);
    return { type: "syscalls", n, launcher, corral_per_process: sum("corral"), raw_per_process: sum("raw"), rows, errors: [] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : fallback;
  };
  const rec = measureSyscalls({ n: Number(arg("n", "500")), launcher: arg("launcher", "direct") });
  if (process.argv.includes("--json")) console.log(JSON.stringify(rec));
  else {
    console.log(
      `syscalls per managed process (n = ${rec.n}, launcher ${rec.launcher}): corral ${rec.corral_per_process.toFixed(1)}, raw ${rec.raw_per_process.toFixed(1)}`,
    );
    console.log("syscall           corral     raw   excess");
    for (const r of rec.rows.slice(0, 20))
      console.log(
        `${r.syscall.padEnd(16)} ${r.corral.toFixed(2).padStart(7)} ${r.raw.toFixed(2).padStart(7)} ${(r.corral - r.raw).toFixed(2).padStart(8)}`,
      );
  }
}
