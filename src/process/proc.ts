// Readers for /proc (Linux). Every function returns null for a process that
// is gone instead of throwing: processes vanish between any two reads.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, Z (zombie), X (dead), ... */
  state: string;
  ppid: number;
  pgrp: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  /** Clock ticks after boot at which the process started: with the boot id, it names a process across PID reuse. */
  startTime: number;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    // The process (or its /proc entry) is gone: the documented null, whatever the errno.
    return null;
  }
}

export function readProcStat(pid: number): ProcStat | null {
  const text = readText(`/proc/${pid}/stat`);
  if (text === null) return null;
  // comm may contain spaces and parentheses: it ends at the last ")".
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  const num = (i: number) => Number(fields[i]);
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: fields[0] ?? "?",
    ppid: num(1),
    pgrp: num(2),
    utime: num(11),
    stime: num(12),
    cutime: num(13),
    cstime: num(14),
    startTime: num(19),
  };
}

/** Running, not a zombie waiting to be reaped. */
export function isRunning(stat: ProcStat | null): stat is ProcStat {
  return stat !== null && stat.state !== "Z" && stat.state !== "X";
}

let cachedBootId: string | undefined;
export function bootId(): string {
  cachedBootId ??= (readText("/proc/sys/kernel/random/boot_id") ?? "unknown").trim();
  return cachedBootId;
}

let cachedClockTicks: number | undefined;
/** Kernel clock ticks per second (CLK_TCK), the unit of the CPU times in /proc/<pid>/stat. */
export function clockTicksPerSecond(): number {
  if (cachedClockTicks === undefined) {
    try {
      cachedClockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      // No getconf: 100 is CLK_TCK on every Linux architecture Node runs on.
      cachedClockTicks = 100;
    }
  }
  return cachedClockTicks;
}

/** Seconds since boot, from /proc/uptime. */
export function uptimeSeconds(): number {
  return Number((readText("/proc/uptime") ?? "0").split(" ")[0]);
}

/** Direct children of a process, across all its threads. */
export function childrenOf(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    // Gone between two reads: it has no children any more.
    return [];
  }
  const children: number[] = [];
  for (const tid of tids) {
    const text = readText(`/proc/${pid}/task/${tid}/children`);
    if (!text) continue;
    for (const part of text.split(" ")) if (part) children.push(Number(part));
  }
  return children;
}

/** A process and all its descendants. */
export function processTree(root: number): number[] {
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const child of childrenOf(tree[i]!)) if (!tree.includes(child)) tree.push(child);
  }
  return tree;
}

/** Resident set size in bytes, or null when the process is gone. */
export function residentBytes(pid: number): number | null {
  const text = readText(`/proc/${pid}/status`);
  if (text === null) return null;
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return match ? Number(match[1]) * 1024 : 0; // zombies and kernel threads have no VmRSS
}
