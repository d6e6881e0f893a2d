// Per-process CPU and memory from /proc, and disk use of a directory.
import type { Stats } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { ServiceProcessMetrics } from "../contract/types.js";
import { reportSurvivable } from "../util/diagnostics.js";
import { isErrno } from "../util/errno.js";
import { clockTicksPerSecond, isRunning, processTree, readProcStat, residentBytes, uptimeSeconds } from "./proc.js";

interface CpuSample {
  pid: number;
  startTime: number;
  ticks: number;
  at: number;
}

/**
 * Measures a process tree. CPU is reported over the interval since the
 * previous sample of the same process (since its start on the first call),
 * as the seed's sysinfo does, in billionths of a core.
 */
export class ProcessMetricsSampler {
  private last: CpuSample | null = null;

  sample(pid: number | undefined): Pick<ServiceProcessMetrics, "cpuNanoCores" | "memoryBytes"> {
    if (pid === undefined) return { cpuNanoCores: null, memoryBytes: null };
    const root = readProcStat(pid);
    if (!isRunning(root)) return { cpuNanoCores: null, memoryBytes: null };
    const tree = processTree(pid);
    // Live descendants count directly; reaped ones live on in the root's cutime/cstime.
    let ticks = root.utime + root.stime + root.cutime + root.cstime;
    let memory = residentBytes(pid) ?? 0;
    for (const member of tree.slice(1)) {
      const stat = readProcStat(member);
      if (!stat) continue;
      ticks += stat.utime + stat.stime;
      memory += residentBytes(member) ?? 0;
    }
    const hz = clockTicksPerSecond();
    const now = performance.now();
    const previous = this.last?.pid === pid && this.last.startTime === root.startTime ? this.last : null;
    const elapsedSeconds = previous ? (now - previous.at) / 1000 : uptimeSeconds() - root.startTime / hz;
    const usedSeconds = (ticks - (previous?.ticks ?? 0)) / hz;
    this.last = { pid, startTime: root.startTime, ticks, at: now };
    const cpuNanoCores = elapsedSeconds > 0 ? Math.max(0, Math.round((usedSeconds / elapsedSeconds) * 1e9)) : 0;
    return { cpuNanoCores, memoryBytes: memory };
  }
}

/** Bytes allocated on disk under `dir` (like `du -s`), or null when it does not exist. */
export async function directoryDiskBytes(dir: string): Promise<number | null> {
  const root = await lstatIfPresent(dir);
  if (!root) return null;
  let total = root.blocks * 512;
  if (!root.isDirectory()) return total;
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop()!;
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (error) {
      // Removed while we walked (ENOENT) is expected; anything else is reported and the rest still counted.
      if (!isErrno(error, "ENOENT", "ENOTDIR")) reportSurvivable("process.metrics", "read scratch directory", error, { path: current });
      continue;
    }
    for (const entry of entries) {
      const path = join(current, entry.name);
      const stats = await lstatIfPresent(path);
      if (!stats) continue;
      total += stats.blocks * 512;
      if (stats.isDirectory()) pending.push(path);
    }
  }
  return total;
}

/** The process owning the scratch directory creates and deletes files as we walk: a vanished one counts for nothing. */
async function lstatIfPresent(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    if (!isErrno(error, "ENOENT", "ENOTDIR")) reportSurvivable("process.metrics", "stat scratch file", error, { path });
    return null;
  }
}
