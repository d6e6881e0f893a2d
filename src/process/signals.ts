import { constants } from "node:os";
import { isErrno } from "../util/errno.js";

/** Signals that mean the process crashed (a bug, not a request to stop), as the seed counts them. */
export const CRASH_SIGNALS: ReadonlySet<string> = new Set(["SIGABRT", "SIGBUS", "SIGSEGV", "SIGTRAP", "SIGILL"]);

/** Sends a signal to a PID or, with a negative number, a process group; false when there is nobody left to receive it. */
export function sendSignal(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (error) {
    if (isErrno(error, "ESRCH")) return false;
    throw error;
  }
}

export function isKnownSignal(name: string): name is NodeJS.Signals {
  return Object.hasOwn(constants.signals, name);
}
