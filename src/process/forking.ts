// Forking servers (`forking: true`, `pidFile:`): the program corral launched
// forks the real server and exits. The server it left is found, in this order,
// through the PID file it writes, the slot's cgroup (which every fork of the
// program joined), or the launched program's process group; only a process
// started after the launch is taken, so a stale PID file never makes corral
// supervise (or signal) a stranger. What is found is a ProcessIdentity like any
// other: recorded in the PID record, adopted by a later instance, killed on drop.
import { readFileSync, readdirSync } from "node:fs";
import { isErrno } from "../util/errno.js";
import { type ProcessIdentity, identify } from "./identity.js";
import type { ProcessCgroup } from "./launch/types.js";
import { readProcStat, isRunning } from "./proc.js";

export interface ServerSearch {
  pidFile?: string;
  cgroup?: ProcessCgroup;
  /** The launched program's PID: the process group its forks stay in unless they make their own session. */
  launchedPid: number;
  /** The launched program's start time: the server started at or after it. */
  notBefore: number;
  /** How long the PID file may take to appear (the server writes it after forking). */
  timeoutMs: number;
  /** False once the slot no longer wants the server (stopped meanwhile): the search gives up. */
  wanted(): boolean;
}

const PID_FILE_POLL_MS = 20;

/** The server's identity, or why none was found. */
export async function findServer(search: ServerSearch): Promise<{ server: ProcessIdentity } | { problem: string }> {
  if (search.pidFile !== undefined) return fromPidFile(search, search.pidFile);
  const candidates = search.cgroup ? await search.cgroup.pids() : membersOfGroup(search.launchedPid);
  const server = oldest(candidates, search.notBefore);
  if (server) return { server };
  return {
    problem: `forking: the launched program exited and left no process in its ${search.cgroup ? "cgroup" : "process group"} (a server that makes its own session needs pidFile)`,
  };
}

async function fromPidFile(search: ServerSearch, path: string): Promise<{ server: ProcessIdentity } | { problem: string }> {
  const deadline = Date.now() + search.timeoutMs;
  let last = `no PID file ${path}`;
  // The server writes the file after it forked, maybe after its parent exited: it is waited for, briefly.
  while (search.wanted()) {
    const pid = readPid(path);
    if (typeof pid === "number") {
      const identity = identify(pid);
      const inGroup = search.cgroup ? (await search.cgroup.pids()).includes(pid) : true;
      if (identity && identity.startTime >= search.notBefore && inGroup) return { server: identity };
      last = identity
        ? `PID file ${path} names process ${pid}, which corral did not start${search.cgroup ? " (not in the service's cgroup)" : ""}`
        : `PID file ${path} names process ${pid}, which is not running`;
    } else if (pid !== undefined) last = pid.problem;
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, PID_FILE_POLL_MS));
  }
  return { problem: `forking: ${last} ${search.timeoutMs} ms after the launched program exited` };
}

function readPid(path: string): number | { problem: string } | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT")) return undefined;
    return { problem: `cannot read PID file ${path}: ${error instanceof Error ? error.message : String(error)}` };
  }
  const trimmed = text.trim();
  // Written but not yet filled in: read again.
  if (trimmed === "") return undefined;
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < 2)
    return { problem: `PID file ${path} holds ${JSON.stringify(trimmed.slice(0, 40))}, not a PID` };
  return Number(trimmed);
}

function membersOfGroup(pgrp: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (isRunning(stat) && stat.pgrp === pgrp) pids.push(stat.pid);
  }
  return pids;
}

/** The first-started live process among `pids` that started no earlier than `notBefore`: the server, not its workers. */
function oldest(pids: readonly number[], notBefore: number): ProcessIdentity | undefined {
  let best: ProcessIdentity | undefined;
  for (const pid of pids) {
    const identity = identify(pid);
    if (!identity || identity.startTime < notBefore) continue;
    if (!best || identity.startTime < best.startTime || (identity.startTime === best.startTime && identity.pid < best.pid)) best = identity;
  }
  return best;
}
