#!/usr/bin/env node
// What importing the package root costs a user (issue 18, item 2): wall time of
// `await import("corral")` (the bundled package root) inside a fresh Node process, and that process's
// RSS afterwards, against a bare `node -e` that imports nothing, in the same run.
// Every figure is the median of `reps` fresh processes; runs alternate between the
// bare baseline and the import, so a burst of load hits both alike.
//   node bench/import-cost.mjs [--reps 10] [--json] [--entry FILE]   (default entry: the package root, dist/bundle/index.js)
// The module can also be imported: measureImportCost({ projectRoot, reps }) returns one record.
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { packageRootFile } from "./package-root.mjs";

// The child times the import itself, so Node's own start-up is not in import_ms;
// RSS is read after the import, so the delta against bare is what the import holds.
// CPU is the whole process's (start-up included): on a loaded machine it moves
// less than wall time, and its delta against bare is the import's.
const probe = (url) =>
  `const t = process.hrtime.bigint();` +
  (url ? `await import(${JSON.stringify(url)});` : "") +
  `const ms = Number(process.hrtime.bigint() - t) / 1e6;` +
  `const cpu = process.cpuUsage();` +
  `process.stdout.write(JSON.stringify({ ms, rss: process.memoryUsage().rss, cpu: (cpu.user + cpu.system) / 1000 }));`;

// Beside what the child measures, the parent times the whole process (spawn to
// exit): what a script that imports corral and does nothing else takes.
function run(url) {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", probe(url)], { encoding: "utf8" });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`import probe exited ${result.status}: ${result.stderr}`);
  return { ...JSON.parse(result.stdout), wall };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const MiB = 1024 * 1024;

/** One record: medians of import ms and RSS MiB, bare and with the package root imported. */
export function measureImportCost({ projectRoot, reps = 10, entry = packageRootFile(projectRoot) }) {
  const url = pathToFileURL(resolve(entry)).href;
  const bare = [];
  const root = [];
  // One warm-up of each: the first run pays for the page cache.
  run(null);
  run(url);
  for (let i = 0; i < reps; i++) {
    bare.push(run(null));
    root.push(run(url));
  }
  const rec = {
    type: "import",
    entry: url,
    reps,
    bare_ms: median(bare.map((r) => r.ms)),
    import_ms: median(root.map((r) => r.ms)),
    bare_rss_mib: median(bare.map((r) => r.rss)) / MiB,
    import_rss_mib: median(root.map((r) => r.rss)) / MiB,
  };
  rec.import_rss_delta_mib = rec.import_rss_mib - rec.bare_rss_mib;
  rec.bare_process_ms = median(bare.map((r) => r.wall));
  rec.import_process_ms = median(root.map((r) => r.wall));
  rec.bare_cpu_ms = median(bare.map((r) => r.cpu));
  rec.import_cpu_ms = median(root.map((r) => r.cpu));
  rec.import_cpu_delta_ms = rec.import_cpu_ms - rec.bare_cpu_ms;
  return rec;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const i = args.indexOf("--reps");
  const reps = i >= 0 ? Number(args[i + 1]) : 10;
  if (!Number.isInteger(reps) || reps < 1) {
    console.error("--reps: a positive integer");
    process.exit(2);
  }
  const e = args.indexOf("--entry");
  const entry = e >= 0 ? args[e + 1] : undefined;
  const rec = measureImportCost({ projectRoot: resolve(dirname(fileURLToPath(import.meta.url)), ".."), reps, entry });
  if (args.includes("--json")) console.log(JSON.stringify(rec));
  else {
    const f = (x) => x.toFixed(1);
    console.log(`import of the package root (median of ${reps} fresh processes)`);
    console.log(`  import ms        ${f(rec.import_ms)}   (timed inside the process)`);
    console.log(`  process ms       ${f(rec.import_process_ms)}   (bare node: ${f(rec.bare_process_ms)}, spawn to exit)`);
    console.log(`  RSS MiB          ${f(rec.import_rss_mib)}   (bare node: ${f(rec.bare_rss_mib)}, +${f(rec.import_rss_delta_mib)})`);
    console.log(`  process CPU ms   ${f(rec.import_cpu_ms)}   (bare node: ${f(rec.bare_cpu_ms)}, +${f(rec.import_cpu_delta_ms)})`);
  }
}
