// Who a PID really is. A PID alone is not an identity: it is reused. A PID
// plus its start time (clock ticks since boot) plus the boot id is, so a PID
// file left by an earlier orchestrator never leads us to adopt or signal a
// stranger that happens to have the same number.
import { readFileSync, unlinkSync } from "node:fs";
import { z } from "../util/zod.js";
import { reportSurvivable } from "../util/diagnostics.js";
import { isErrno } from "../util/errno.js";
import { parseJsonRecord } from "../util/json-record.js";
import { writeRecordInPlace } from "../util/record-file.js";
import { bootId, isRunning, readProcStat } from "./proc.js";

export interface ProcessIdentity {
  pid: number;
  startTime: number;
  bootId: string;
}

// zod's int() is a safe integer.
const integer = z.number().int();

/**
 * What corral records about a process it launched, in `<runDir>/<i>.pid`. Only
 * the identity is required: a record without the rest (an older corral's) is
 * still adopted, as a process whose config is unknown.
 */
const pidRecordSchema = z.object({
  pid: integer.gt(1),
  startTime: integer,
  bootId: z.string(),
  /** Hash of the launch spec, so a later instance can tell whether the adopted process runs the desired config. */
  specHash: z.string().catch(""),
  /** The service's scale the spec was built for: its args may list every peer. */
  scale: integer.min(1).optional().catch(undefined),
  restartCount: integer.min(0).catch(0),
  launchedAt: z.string().catch(new Date(0).toISOString()),
});

export type PidRecord = z.infer<typeof pidRecordSchema>;

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
  // loss ends the process too (the boot id then differs anyway). In place (see
  // record-file.ts): one cut short by a crash reads as none, and the launch
  // intent, cleared only after this write, covers its process.
  writeRecordInPlace(path, JSON.stringify(record));
}

export function readPidRecord(path: string): PidRecord | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (!isErrno(error, "ENOENT", "ENOTDIR")) reportSurvivable("process.identity", "read PID file", error, { path });
    return null;
  }
  return parseJsonRecord(text, pidRecordSchema);
}

/**
 * Blanks a record file (a PID file, a launch intent): a blank one names
 * nothing. Kept rather than removed, so the next launch of the slot writes
 * over it instead of allocating a new file.
 */
export function clearRecord(path: string): void {
  try {
    writeRecordInPlace(path, "");
  } catch (error) {
    reportSurvivable("process.identity", "clear record", error, { path });
  }
}

/** Removes a file that may already be gone (a PID file of a process that exited meanwhile). */
export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!isErrno(error, "ENOENT")) reportSurvivable("process.identity", "remove file", error, { path });
  }
}
