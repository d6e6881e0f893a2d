// Where a daemon keeps its state. One state directory is one environment:
// `corral` finds the daemon of a project by its `.corral` folder, as git finds `.git`.
import { join, resolve } from "node:path";

export interface StatePaths {
  root: string;
  /** The HTTP API, mode 0600. */
  socket: string;
  /** The desired state, written atomically before it is applied. */
  desired: string;
  /** `{ pid, startTime, ... }` of the running daemon. */
  pidFile: string;
  /** Bearer token for the TCP listener, mode 0600. */
  token: string;
  /** The daemon's own output when started in the background. */
  daemonLog: string;
  /** The orchestrator's state: run directories, PID files, sockets, logs. */
  run: string;
  scratch: string;
  secrets: string;
  discovery: string;
}

export function statePaths(root: string): StatePaths {
  const dir = resolve(root);
  return {
    root: dir,
    socket: join(dir, "corral.sock"),
    desired: join(dir, "desired.json"),
    pidFile: join(dir, "daemon.json"),
    token: join(dir, "token"),
    daemonLog: join(dir, "daemon.log"),
    run: join(dir, "run"),
    scratch: join(dir, "scratch"),
    secrets: join(dir, "secrets"),
    discovery: join(dir, "discovery"),
  };
}

/** `--state-dir`, else $CORRAL_STATE_DIR, else `.corral` beside the config file (or in the working directory). */
export function defaultStateDir(configDir?: string): string {
  return process.env.CORRAL_STATE_DIR || join(configDir ?? process.cwd(), ".corral");
}
