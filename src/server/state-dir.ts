// Where a daemon keeps its state. One state directory is one environment:
// `corral` finds the daemon of a project by its `.corral` folder, as git finds `.git`.
import { createHash } from "node:crypto";
import { lstat, mkdir, chmod, rm, rmdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { MAX_SOCKET_PATH_BYTES } from "../process/run-dir.js";
import { isErrno } from "../util/errno.js";

export interface StatePaths {
  root: string;
  /**
   * The HTTP API, mode 0600: `<root>/corral.sock`, or, when that path is longer
   * than a Unix socket may be (a deep project folder),
   * `/tmp/corral-<hash of root>/corral.sock` in a 0700 directory. Both the
   * daemon and the CLI derive it from the root alone, so they always agree.
   */
  socket: string;
  /** The desired state, written atomically before it is applied. */
  desired: string;
  /** `{ pid, startTime, ... }` of the running daemon. */
  pidFile: string;
  /** Bearer token for the TCP listener, mode 0600. */
  token: string;
  /** Bearer token that only reads (metrics, discovery, state, events), mode 0600: Prometheus's. */
  readToken: string;
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
    socket: apiSocketPath(dir),
    desired: join(dir, "desired.json"),
    pidFile: join(dir, "daemon.json"),
    token: join(dir, "token"),
    readToken: join(dir, "token.read"),
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

/** Parent of the API sockets of state directories too deep for `<root>/corral.sock`: the same for every process, whatever its environment. */
export const SHORT_SOCKET_BASE = "/tmp";

function apiSocketPath(root: string): string {
  const inside = join(root, "corral.sock");
  if (Buffer.byteLength(inside) <= MAX_SOCKET_PATH_BYTES) return inside;
  const hash = createHash("sha256").update(root).digest("hex").slice(0, 16);
  return join(SHORT_SOCKET_BASE, `corral-${hash}`, "corral.sock");
}

/** True when the API socket lives outside the state directory (see StatePaths.socket). */
function socketOutside(paths: StatePaths): boolean {
  return dirname(paths.socket) !== paths.root;
}

/**
 * Makes the directory the API socket goes in, when it is the short one: 0700
 * and this user's own. /tmp is shared, so a directory someone else made there
 * (or a symlink) is refused rather than trusted.
 */
export async function prepareSocketDirectory(paths: StatePaths): Promise<void> {
  if (!socketOutside(paths)) return;
  const dir = dirname(paths.socket);
  await mkdir(dir, { mode: 0o700 }).catch((error: unknown) => {
    if (!isErrno(error, "EEXIST")) throw error;
  });
  const info = await lstat(dir);
  const uid = process.getuid?.();
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) {
    throw new Error(
      `${dir} (the API socket's directory, since ${join(paths.root, "corral.sock")} is too long for a Unix socket) is not a directory of this user's; remove it`,
    );
  }
  await chmod(dir, 0o700);
}

/** Removes the API socket, and its short directory when it has one. */
export async function removeApiSocket(paths: StatePaths): Promise<void> {
  await rm(paths.socket, { force: true });
  if (!socketOutside(paths)) return;
  await rmdir(dirname(paths.socket)).catch((error: unknown) => {
    if (!isErrno(error, "ENOENT") && !isErrno(error, "ENOTEMPTY")) throw error;
  });
}
