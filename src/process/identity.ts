// Who a PID really is. A PID alone is not an identity: it is reused. A PID
// plus its start time (clock ticks since boot) plus the boot id is, so a PID
// file left by an earlier orchestrator never leads us to adopt or signal a
// stranger that happens to have the same number.
import { readFileSync, unlinkSync } from "node:fs";
import { writeFileAtomicSync } from "../util/atomic-write.js";
import { bootId, isRunning, readProcStat } from "./proc.js";

export interface ProcessIdentity {
  pid: number;
  startTime: number;
  bootId: string;
}

/** What corral records about a process it launched, in `<runDir>/<i>.pid`. */
export interface PidRecord extends ProcessIdentity {
  /** Hash of the launch spec, so a later instance can tell whether the adopted process runs the desired config. */
  specHash: string;
  restartCount: number;
  launchedAt: string;
}

/** The identity of a live process, or null when it is gone. */
export function identify(pid: number): ProcessIdentity | null {
  const stat = readProcStat(pid);
  if (!isRunning(stat)) return null;
  return { pid, startTime: stat.startTime, bootId: bootId() };
}

/** True while the process named by `identity` is alive (not a zombie, not a reused PID). */
export function isAlive(identity: ProcessIdentity): boolean {
  if (identity.bootId !== bootId()) return false;
  const stat = readProcStat(identity.pid);
  return isRunning(stat) && stat.startTime === identity.startTime;
}

/** True when the process is alive and still leads its own process group, so signalling the group reaches only its tree. */
export function leadsOwnGroup(identity: ProcessIdentity): boolean {
  const stat = readProcStat(identity.pid);
  return isRunning(stat) && stat.startTime === identity.startTime && stat.pgrp === identity.pid;
}

export function writePidRecord(path: string, record: PidRecord): void {
  // Not fsynced: the record only matters while the process lives, and a power
  // loss ends the process too (the boot id then differs anyway).
  writeFileAtomicSync(path, `${JSON.stringify(record)}\n`, { durable: false });
}

export function readPidRecord(path: string): PidRecord | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return null;
  }
  try {
    const value = JSON.parse(text) as Partial<PidRecord>;
    if (
      !Number.isSafeInteger(value.pid) ||
      (value.pid ?? 0) <= 1 ||
      !Number.isSafeInteger(value.startTime) ||
      typeof value.bootId !== "string"
    )
      return null;
    return {
      pid: value.pid!,
      startTime: value.startTime!,
      bootId: value.bootId,
      specHash: typeof value.specHash === "string" ? value.specHash : "",
      restartCount: Number.isSafeInteger(value.restartCount) ? value.restartCount! : 0,
      launchedAt: typeof value.launchedAt === "string" ? value.launchedAt : new Date(0).toISOString(),
    };
  } catch {
    return null; // a torn or foreign file is not ours to act on
  }
}

export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}
