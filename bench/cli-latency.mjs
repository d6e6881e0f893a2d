// The `cli` phase: how long the `corral` command takes to answer, against bare
// Node in the same run (ratios, so the machine's speed and load cancel out).
//   bare          node -e 0
//   bare+request  node -e '<GET /v1/processes on the socket>' (what ps must do at least)
//   --help        corral --help (commander only: no client, no daemon code)
//   ps            corral ps against a daemon supervising n processes
// Reps alternate the four commands, so a burst of load hits all of them alike.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

function timed(argv, cwd, env) {
  const start = process.hrtime.bigint();
  const result = spawnSync(argv[0], argv.slice(1), { cwd, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${argv.join(" ")} exited ${result.status}: ${result.stderr}`);
  return ms;
}

const p50 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One record: p50 milliseconds of each command and the ratios the issue sets targets for. */
export async function measureCliLatency({ projectRoot, workdir, n, reps }) {
  const bin = join(projectRoot, "bin", "corral.js");
  const dir = join(workdir, `cli-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "corral.yaml"),
    `environment: bench-cli-${process.pid}\nservices:\n  idle:\n    command: sleep\n    args: ["1000000"]\n    scale: ${n}\n`,
  );
  const env = { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" };
  const rec = { type: "cli", n, reps, errors: [] };
  try {
    const up = spawnSync(process.execPath, [bin, "up", "-d", "--timeout", "600"], { cwd: dir, env, encoding: "utf8" });
    if (up.status !== 0) throw new Error(`corral up -d: ${up.stderr}`);
    const socket = join(dir, ".corral", "corral.sock");
    const request = `require("http").get({ socketPath: ${JSON.stringify(socket)}, path: "/v1/processes" }, (r) => r.resume())`;
    const runs = { bare: [], bareRequest: [], help: [], ps: [] };
    // One warm-up of each: the first run pays for the page cache.
    const commands = {
      bare: [process.execPath, "-e", "0"],
      bareRequest: [process.execPath, "-e", request],
      help: [process.execPath, bin, "--help"],
      ps: [process.execPath, bin, "ps"],
    };
    for (const argv of Object.values(commands)) timed(argv, dir, env);
    for (let i = 0; i < reps; i++) for (const [name, argv] of Object.entries(commands)) runs[name].push(timed(argv, dir, env));
    rec.bare_ms = p50(runs.bare);
    rec.bare_request_ms = p50(runs.bareRequest);
    rec.help_ms = p50(runs.help);
    rec.ps_ms = p50(runs.ps);
    rec.help_ratio = rec.help_ms / rec.bare_ms;
    rec.ps_ratio = rec.ps_ms / rec.bare_request_ms;
    rec.ps_bare_ratio = rec.ps_ms / rec.bare_ms;
  } catch (error) {
    rec.errors.push(String(error?.message ?? error));
  } finally {
    spawnSync(process.execPath, [bin, "down"], { cwd: dir, env, encoding: "utf8", timeout: 300_000 });
    rmSync(dir, { recursive: true, force: true });
  }
  return rec;
}

/** The Markdown table of the cli records (targets: --help ≤ 1.3× bare node, ps ≤ 1.5× bare node plus the request). */
export function cliTable(records, round) {
  const rows = records.filter((r) => r.type === "cli" && r.errors.length === 0);
  if (rows.length === 0) return "";
  const lines = [
    "| n | bare node ms | bare + request ms | --help ms | ps ms | --help / bare (target ≤ 1.3) | ps / (bare + request) (target ≤ 1.5) |",
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.n} | ${round(r.bare_ms, 1)} | ${round(r.bare_request_ms, 1)} | ${round(r.help_ms, 1)} | ${round(r.ps_ms, 1)} | ${round(r.help_ratio, 2)} | ${round(r.ps_ratio, 2)} |`,
    ),
  ];
  return `### CLI latency (p50 of alternating runs, same machine, same moment)\n\n${lines.join("\n")}\n`;
}
