#!/usr/bin/env node
// Stop, measured at the kernel: from the stop command to the death (zombie or
// gone) of each child, polled in a tight loop over the known pids only. The
// shared harness's stop figure polls with a 20 %-duty back-off and rescans the
// manager's children each time, so on 2 cores it also measures how much CPU
// the manager leaves the poller while it handles the exits.
//   node bench/stop-probe.mjs [--drivers raw,corral-cgroup,corral-direct] [--n 500] [--repeat 3] [--out FILE.jsonl]
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createCorralDriver } from "./drivers/corral.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const sharedDir = resolve(process.env.CORRAL_BENCH_SHARED || join(here, "../../shared/bench"));
const imp = (p) => import(pathToFileURL(join(sharedDir, p)).href);
const { installExitHandlers, reapAll } = await imp("lib/reaper.mjs");
const { stats, sleep } = await imp("lib/timing.mjs");
const opt = { drivers: "raw,corral-cgroup,corral-direct", n: "500", repeat: "3", out: "" };
for (let i = 2; i < process.argv.length; i += 2) opt[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
installExitHandlers();
mkdirSync("/tmp/bench-work", { recursive: true });

const dead = (p) => {
  try {
    const s = readFileSync(`/proc/${p}/stat`, "utf8");
    const st = s[s.lastIndexOf(")") + 2];
    return st === "Z" || st === "X";
  } catch {
    return true;
  }
};
const command = { name: "sleep", argv: ["/usr/bin/sleep", "100000"], comm: "sleep" };
for (let rep = 1; rep <= +opt.repeat; rep++) {
  for (const name of opt.drivers.split(",")) {
    const d =
      name === "raw"
        ? (await imp("drivers/raw.mjs")).default
        : await createCorralDriver(sharedDir, { launcher: name.replace("corral-", "") });
    const n = +opt.n;
    const wd = mkdtempSync(`/tmp/bench-work/stop-probe-${name}-`);
    try {
      await d.setup(wd);
      await d.startAll(n, command, { timeoutMs: 120000 });
      if (d.startInfo) await d.startInfo();
      await sleep(2000);
      const pids = [...d.known];
      const t0 = process.hrtime.bigint();
      const resolved = name === "raw" ? (process.kill(d.mgr.pid, "SIGUSR2"), Promise.resolve(null)) : d.request("drop", {}, 60000);
      const deaths = [];
      const left = new Set(pids);
      const limit = Date.now() + 60000;
      while (left.size && Date.now() < limit)
        for (const p of left)
          if (dead(p)) {
            deaths.push(Number(process.hrtime.bigint() - t0) / 1e6);
            left.delete(p);
          }
      const r = await resolved;
      const s = stats(deaths);
      const rec = {
        type: "stop-probe",
        driver: name,
        n,
        rep,
        first_ms: s.min,
        median_ms: s.median,
        last_ms: s.max,
        not_dead: left.size,
        api_resolved_ms: r ? Number(BigInt(r.t_dropped) - t0) / 1e6 : null,
        ts: new Date().toISOString(),
      };
      console.log(JSON.stringify(rec));
      if (opt.out) appendFileSync(opt.out, JSON.stringify(rec) + "\n");
    } finally {
      await d.teardown();
      await reapAll();
      d.cleanupCgroups?.();
      rmSync(wd, { recursive: true, force: true });
    }
  }
}
process.exit(0);
