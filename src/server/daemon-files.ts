// The daemon's own files and log: the PID file that keeps one daemon per state
// directory, the token, and the line per survivable failure.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { identify, isAlive, readPidRecord } from "../process/identity.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { errnoCode, isErrno } from "../util/errno.js";
import { type SurvivableError, reportSurvivable, survivableErrors } from "../util/diagnostics.js";
import type { StatePaths } from "./state-dir.js";

/** A write the disk has no room (or the process no descriptor) for: the daemon starts anyway and says so. */
const NO_ROOM = ["ENOSPC", "EDQUOT", "EMFILE", "ENFILE"];

/**
 * Claims the state directory for this daemon. Returns a problem to report when
 * the PID file could not be written for want of room: a daemon must start on a
 * full disk (to stop what runs, if nothing else); the socket it then binds still
 * tells a second one that this one serves.
 */
export async function claimPidFile(paths: StatePaths, alreadyRunning: (pid: number) => Error): Promise<string | null> {
  const record = readPidRecord(paths.pidFile);
  if (record && isAlive(record) && record.pid !== process.pid) throw alreadyRunning(record.pid);
  const me = identify(process.pid);
  if (!me) throw new Error("cannot read this process's own /proc entry");
  try {
    await writeFileAtomic(
      paths.pidFile,
      `${JSON.stringify({ ...me, specHash: "daemon", restartCount: 0, launchedAt: new Date().toISOString() })}\n`,
      { mode: 0o600 },
    );
  } catch (error) {
    if (!isErrno(error, ...NO_ROOM)) throw error;
    return `${paths.pidFile} could not be written (${errnoCode(error)})`;
  }
  return null;
}

const TOKEN_MIN_LENGTH = 32;

export async function loadOrCreateToken(path: string): Promise<string> {
  try {
    const token = (await readFile(path, "utf8")).trim();
    if (token.length >= TOKEN_MIN_LENGTH) return token;
  } catch (error) {
    // No token yet is the usual first start; anything else is worth a line before a new one replaces it.
    if (!(error instanceof Error && "code" in error && error.code === "ENOENT"))
      reportSurvivable("server.daemon", "read the token", error, { path });
  }
  const token = randomBytes(32).toString("hex");
  try {
    await writeFileAtomic(path, `${token}\n`, { mode: 0o600 });
  } catch (error) {
    // Without room for it the token lives in memory: TCP clients cannot read it until a restart with room.
    if (!isErrno(error, ...NO_ROOM)) throw error;
    reportSurvivable("server.daemon", "write the token", error, { path });
  }
  return token;
}

/** One line per survivable failure, e.g. `corral: survived process.cgroup remove group (service=web process=0): EBUSY ...`. */
export function describeSurvivable(report: SurvivableError): string {
  const where = Object.entries(report.detail ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(" ");
  const error = report.error instanceof Error ? report.error.message : String(report.error);
  return `corral: survived ${report.scope} ${report.operation}${where ? ` (${where})` : ""}: ${error.replace(/\s*\n\s*/g, " ")}`;
}

/** Writes every survivable failure reported in this process to `log`, until the returned function is called. */
export function logSurvivableErrors(log: (line: string) => void): () => void {
  const onReport = (message: unknown) => {
    if (isSurvivableError(message)) log(describeSurvivable(message));
  };
  survivableErrors.subscribe(onReport);
  return () => survivableErrors.unsubscribe(onReport);
}

function isSurvivableError(message: unknown): message is SurvivableError {
  return typeof message === "object" && message !== null && "scope" in message && "operation" in message && "error" in message;
}
