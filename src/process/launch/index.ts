// Launchers: how a supervised process is started so its memory and CPU limits hold.
//
// Usage by the supervisor (one launcher per orchestrator):
//
//   const launcher = await selectLauncher(config.launcher ?? "auto");
//   const prep = await launcher.prepare({ environmentId, fullId, processIndex, program, args, memoryLimit, cpuLimit });
//   if (prep.warning) emitOnce(prep.warning);
//   const child = spawn(prep.command, prep.args, { detached: true, ... });
//   child.on("exit", async (code, signal) => {
//     const after = prep.cgroup ? await prep.cgroup.oomKillCount() : undefined;
//     const { reason, exitCode } = classifyExit({ code, signal, oomKillsBefore: prep.oomKillsBefore, oomKillsAfter: after });
//   });
//   stop: signal the process group; after the grace period, or as soon as the main process exited,
//   `await prep.cgroup?.kill()` takes whatever is left in the group (grandchildren in other sessions too).
//   relaunch: just prepare() again (same group; leftovers in it are killed, limits rewritten).
//   once stopped for good (drop, scale-down, close): `await group.kill(); await group.remove()`.
//   adoption: `await launcher.reopen({ environmentId, fullId, processIndex })` gives the group back (cgroup launcher only);
//   its baseline for classifyExit is `await group.oomKillCount()` at adoption.
//   metrics: `new CgroupMetricsSampler().read(group)` per process; fall back to /proc without a group.
//
// - direct: `program args`; `warning` set when limits were asked for.
// - systemd: `systemd-run --user --scope --quiet [-p MemoryMax=<bytes>] [-p CPUQuota=<ceil(millicpus/10)>%] program args`.
// - cgroup: `/bin/sh -c 'echo $$ > <g>/cgroup.procs && ... || exit 125; exec "$@"' sh program args`, where the
//   group is `<hierarchy>/corral/<environmentId>/<fullId>-<processIndex>` in every hierarchy used (v2: the unified
//   tree with memory.max, memory.swap.max=0, memory.oom.group=1, cpu.max, pids.max; v1: memory
//   (limit_in_bytes, memsw), cpu (cfs_quota_us/cfs_period_us), cpuacct, pids, freezer, plus the controller-less
//   v2 tree on hybrid hosts for cgroup.kill/cgroup.events). Exit code 125 = the child could not join its group.
//   A group that is still populated at prepare() holds orphans of a dead earlier incarnation: they are killed.
//   remove() also removes `corral/<environmentId>` and `corral` when they are left empty. The orchestrator passes
//   its hostScope as environmentId (`<env>-<hash of the state dir>`), so two projects named alike never share a group.
// - classifyExit: SIGKILL (or status 137 from a wrapper that did not exec) with a higher oom_kill count is
//   "oom-killed"; another signal "crashed"; a non-zero code "exited"; 0 "completed".
export type { LaunchRequest, Launcher, LauncherKind, PreparedLaunch, ProcessCgroup } from "./types.js";
export { selectLauncher } from "./select.js";
export type { SelectLauncherOptions } from "./select.js";
export { classifyExit } from "./exit-reason.js";
export type { ExitClassification, ExitReason } from "./exit-reason.js";
export { DirectLauncher, limitsWarning } from "./direct.js";
export { SystemdLauncher, systemdRunArgs, systemdUserManagerAvailable } from "./systemd.js";
export type { SystemdLauncherOptions, SystemdProbeOptions } from "./systemd.js";
export { CgroupLauncher, CGROUP_JOIN_FAILED_EXIT_CODE, shellQuote } from "./cgroup-launcher.js";
export type { CgroupLauncherOptions } from "./cgroup-launcher.js";
export { detectCgroupLayout, hierarchiesOf, parseMountInfo } from "./cgroup-layout.js";
export type { CgroupLayout, CgroupMount, DetectedLayout } from "./cgroup-layout.js";
export { CgroupMetricsSampler, cpuNanoCoresBetween, sampleCgroup } from "./cgroup-metrics.js";
export type { CgroupMetrics, CgroupSample } from "./cgroup-metrics.js";
