// The record of a launch about to happen. A host can die between `spawn` and
// the PID record (a SIGKILL, a disk that fills in between): the intent, written
// into the slot's PID file before the spawn and replaced there by the PID record,
// tells the next instance to look for the process that record would have named.
// One file holds either, so a launch allocates no file of its own and writes
// twice (the intent, then the record over it). The process is found by what
// corral put in its environment (environment, namespace, service, index), by
// being its own group leader (corral spawns detached) and by having started
// after the intent was written: nothing else matches all three.
import { readFileSync, readdirSync } from "node:fs";
import { z } from "../util/zod.js";
import { reportSurvivable } from "../util/diagnostics.js";
import { isErrno } from "../util/errno.js";
import { parseJsonRecord } from "../util/json-record.js";
import { writeRecordInPlace } from "../util/record-file.js";
import type { ProcessIdentity } from "./identity.js";
import { bootId, clockTicksPerSecond, isRunning, readProcStat, uptimeSeconds } from "./proc.js";

// Keyed apart from a PID record's fields, so neither is ever read as the other.
const intentSchema = z.object({
  launching: z.literal(true),
  bootId: z.string(),
  /** Clock ticks since boot when the intent was written: the process started at or after it. */
  since: z.number().int(),
});

/** Writes the intent into the slot's PID file; throws when it cannot be written (then nothing may be spawned). */
export function writeLaunchIntent(path: string): void {
  // One tick of slack: uptime is read with less precision than a start time.
  const since = Math.floor(uptimeSeconds() * clockTicksPerSecond()) - 1;
  // In place (record-file.ts), over a blank or stale record. One cut short by a
  // crash was written before any spawn: there is nothing it should name.
  writeRecordInPlace(path, JSON.stringify({ launching: true, bootId: bootId(), since }));
}

/**
 * The processes a launch recorded at `path` may have left untracked: live,
 * leading their own group, started since the intent, with every one of
 * `marks` (NAME=value) in their environment. None when the file holds no intent
 * (none at all, a blank one, a PID record) or one from another boot.
 */
export function intendedProcesses(path: string, marks: Record<string, string>): ProcessIdentity[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (!isErrno(error, "ENOENT", "ENOTDIR")) reportSurvivable("process.launch-intent", "read launch intent", error, { path });
    return [];
  }
  const intent = parseJsonRecord(text, intentSchema);
  if (!intent || intent.bootId !== bootId()) return [];
  const needles = Object.entries(marks).map(([name, value]) => `${name}=${value}\0`);
  const found: ProcessIdentity[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = readProcStat(pid);
    if (!isRunning(stat) || stat.pgrp !== pid || stat.startTime < intent.since) continue;
    let environ: string;
    try {
      environ = `\0${readFileSync(`/proc/${pid}/environ`, "latin1")}`;
    } catch {
      continue; // gone meanwhile, or not ours to read: not ours either way
    }
    if (needles.every((needle) => environ.includes(`\0${needle}`))) found.push({ pid, startTime: stat.startTime, bootId: bootId() });
  }
  return found;
}
