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
  /** Named volumes: kept by `corral down`, removed by `corral down --volumes`. */
  volumes: string;
}

/**
 * The state directory's mode: traversable by anyone, listable by nobody else.
 * A service run as another user must reach its sockets, scratch and volumes
 * below it; everything secret inside (the API socket, the token, the desired
 * state, secrets) is 0600/0700 on its own.
 */
export const STATE_DIR_MODE = 0o711;

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
    volumes: join(dir, "volumes"),
  };
}

/** `--state-dir`, else $CORRAL_STATE_DIR, else `.corral` beside the config file (or in the working directory). */
export function defaultStateDir(configDir?: string): string {
  return process.env.CORRAL_STATE_DIR || join(configDir ?? process.cwd(), ".corral");
}
