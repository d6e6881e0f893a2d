// Every file corral keeps for a service, named in one place. The run directory
// `<stateDir>/<namespace>-<id>` holds:
//   <i>.pid                the PID record of process i (identity.ts), or the intent of its launch (launch-intent.ts)
//   <i>.stdout, <i>.stderr the named pipes process i writes its output into (logs.ts)
//   <port>-<i>             the Unix socket of process i for a port (or a hashed path in the temp dir);
//                          for a port with socketDir, a directory holding <socketFile>
//   <i>.secrets/           the files of the secrets process i reads, while it runs (secret-files.ts)
//   service.json           what the directory belongs to (service-manifest.ts)
// A service that runs as another user gets its sockets one level down, in
// `sockets/` (owned by that user, 0700): the run directory itself stays
// corral's (0711), so the service can reach its sockets but cannot touch its
// PID records, which corral trusts when it signals a PID.
// Beside it: `<logDir>/<namespace>-<id>-<i>.log[.N]` (rotated logs), with `disk`
// the scratch directory `<scratchDirectory>/<namespace>-<id>`, and the volumes
// `<volumeDirectory>/<name>` that outlive every service.
import { createHash } from "node:crypto";
import { open, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServicePort } from "../contract/types.js";
import { isErrno } from "../util/errno.js";
import { survive } from "../util/diagnostics.js";
import { unlinkIfPresent } from "../util/unlink.js";
import { removeSecretFiles } from "./secret-files.js";

/** Where a service's files go; every path below is derived from these. */
export interface ServicePaths {
  /** `<namespace>-<id>`: names the run directory, the log files, the scratch directory and the cgroups. */
  fullId: string;
  runDir: string;
  /** Where the sockets (and socket directories) of the processes go: the run directory, or `<runDir>/sockets` for a service run as another user. */
  socketHome: string;
  logDir: string;
  /** Set when the service asked for a scratch directory. */
  scratchDir?: string;
}

/** The roots a ProcessOrchestrator keeps its files under. */
export interface StateLayout {
  stateDir: string;
  logDir: string;
  scratchDirectory: string;
  volumeDirectory: string;
}

export function fullIdOf(namespace: string, id: string): string {
  return `${namespace}-${id}`;
}

/** The sub-directory of the run directory a service run as another user owns. */
export const USER_SOCKET_HOME = "sockets";

export function servicePaths(
  layout: Omit<StateLayout, "volumeDirectory">,
  namespace: string,
  id: string,
  { disk = false, otherUser = false }: { disk?: boolean; otherUser?: boolean } = {},
): ServicePaths {
  const fullId = fullIdOf(namespace, id);
  const runDir = join(layout.stateDir, fullId);
  return {
    fullId,
    runDir,
    socketHome: otherUser ? join(runDir, USER_SOCKET_HOME) : runDir,
    logDir: layout.logDir,
    ...(disk ? { scratchDir: join(layout.scratchDirectory, fullId) } : {}),
  };
}

/** `<volumeDirectory>/<name>`: a volume's data, kept until it is removed by name. */
export function volumePath(volumeDirectory: string, name: string): string {
  return join(volumeDirectory, name);
}

export const MANIFEST_FILE = "service.json";

export function manifestFile(runDir: string): string {
  return join(runDir, MANIFEST_FILE);
}

export function pidFile(runDir: string, processIndex: number): string {
  return join(runDir, `${processIndex}.pid`);
}

export function fifoFiles(runDir: string, processIndex: number): { stdout: string; stderr: string } {
  return { stdout: join(runDir, `${processIndex}.stdout`), stderr: join(runDir, `${processIndex}.stderr`) };
}

/** Where process `i` finds the files of its secrets (%C, CORRAL_SECRETS_DIR). */
export function secretsDirectory(runDir: string, processIndex: number): string {
  return join(runDir, `${processIndex}.secrets`);
}

/** The current log file of a process; rotated ones add `.1`, `.2`, ... */
export function logFile(logDir: string, fullId: string, processIndex: number): string {
  return join(logDir, `${fullId}-${processIndex}.log`);
}

/**
 * sockaddr_un holds 108 bytes including the terminating NUL. Node 20 silently
 * truncates longer paths, so the process would listen somewhere else than we
 * report: check the length ourselves.
 */
export const MAX_SOCKET_PATH_BYTES = 107;

/** `<home>/<port>-<i>`, or a hashed name in the temp dir when that path is too long to bind. */
export function socketPath(home: string, port: string, processIndex: number): string {
  return fitted(join(home, `${port}-${processIndex}`), "");
}

/**
 * The directory of a socketDir port: `<home>/<port>-<i>`, or a hashed one in the
 * temp dir when `<dir>/<socketFile>` would be too long to bind. The socket is
 * `<dir>/<socketFile>`; see socketDirProblem for a socketFile too long for both.
 */
export function socketDirPath(home: string, port: string, processIndex: number, socketFile: string): string {
  return fitted(join(home, `${port}-${processIndex}`), `/${socketFile}`);
}

function fitted(desired: string, suffix: string): string {
  if (Buffer.byteLength(desired + suffix) <= MAX_SOCKET_PATH_BYTES) return desired;
  return hashedPath(desired);
}

function hashedPath(desired: string): string {
  return join(tmpdir(), createHash("sha1").update(desired).digest("hex"));
}

/**
 * The service address of a port, which corral itself listens on: `<runDir>/<port>`
 * (hashed into the temp dir when too long), or for a socketDir port the
 * directory `<runDir>/<port>` holding `<socketFile>`, as clients such as psql -h
 * take it. `socket` is what is bound; `address` what clients are given.
 */
export function serviceSocket(runDir: string, port: ServicePort): { socket: string; address: string; dir?: string } {
  if (port.socketDir && port.socketFile !== undefined) {
    const dir = fitted(join(runDir, port.name), `/${port.socketFile}`);
    return { socket: join(dir, port.socketFile), address: dir, dir };
  }
  const socket = fitted(join(runDir, port.name), "");
  return { socket, address: socket };
}

/** Port name → the service address, for every port of a service. */
export function serviceAddresses(runDir: string, ports: readonly ServicePort[]): Record<string, string> {
  return Object.fromEntries(ports.map((p) => [p.name, serviceSocket(runDir, p).address]));
}

/** Why a socketDir port's socket cannot be bound at any of its paths (its socketFile is too long), or undefined. */
export function socketDirProblem(home: string, port: ServicePort, processIndex: number): string | undefined {
  if (!port.socketDir || port.socketFile === undefined) return undefined;
  const socket = join(socketDirPath(home, port.name, processIndex, port.socketFile), port.socketFile);
  if (Buffer.byteLength(socket) <= MAX_SOCKET_PATH_BYTES) return undefined;
  return `socketFile ${JSON.stringify(port.socketFile)} makes the socket path ${socket} longer than the ${MAX_SOCKET_PATH_BYTES} bytes a Unix socket may have`;
}

/** Port name → the socket a client connects to, for one process (for a socketDir port: `<dir>/<socketFile>`). */
export function listenAddresses(home: string, ports: readonly ServicePort[], processIndex: number): Record<string, string> {
  return Object.fromEntries(
    ports.map((p) => [
      p.name,
      p.socketDir && p.socketFile !== undefined
        ? join(socketDirPath(home, p.name, processIndex, p.socketFile), p.socketFile)
        : socketPath(home, p.name, processIndex),
    ]),
  );
}

/** Port name → the process's socket directory, for the ports with socketDir. */
export function socketDirectories(home: string, ports: readonly ServicePort[], processIndex: number): Record<string, string> {
  return Object.fromEntries(
    ports.flatMap((p) =>
      p.socketDir && p.socketFile !== undefined ? [[p.name, socketDirPath(home, p.name, processIndex, p.socketFile)]] : [],
    ),
  );
}

const PID_FILE = /^(\d+)\.pid$/;
// `<i>.launching`: a launch intent of an older corral, which kept it in a file of its own.
const FIFO_FILE = /^(\d+)\.(stdout|stderr|launching)$/;
const SECRETS_DIR = /^(\d+)\.secrets$/;
const LOG_FILE = /^(\d+)\.log(\.\d+)?$/;

/** Indices of every `<i>.pid` in a run directory. */
export async function recordedIndices(runDir: string): Promise<number[]> {
  return (await listDir(runDir)).flatMap((name) => {
    const match = PID_FILE.exec(name);
    return match ? [Number(match[1])] : [];
  });
}

/** Log files, pipes and secret files of processes at or above `from` (after a scale-down, or left by a larger earlier scale). */
export async function removeSlotFiles(paths: ServicePaths, from: number): Promise<void> {
  const prefix = `${paths.fullId}-`;
  const [logs, runFiles] = await Promise.all([listDir(paths.logDir), listDir(paths.runDir)]);
  const removals: Promise<unknown>[] = [];
  for (const name of logs) {
    const match = LOG_FILE.exec(name.startsWith(prefix) ? name.slice(prefix.length) : "");
    if (match && Number(match[1]) >= from) removals.push(unlinkIfPresent(join(paths.logDir, name)));
  }
  for (const name of runFiles) {
    const match = FIFO_FILE.exec(name);
    if (match && Number(match[1]) >= from) removals.push(unlinkIfPresent(join(paths.runDir, name)));
    const secrets = SECRETS_DIR.exec(name);
    if (secrets && Number(secrets[1]) >= from) removals.push(removeSecretFiles(join(paths.runDir, name)));
  }
  // A scale-down of 500 leaves ~1500 files: removed side by side, not one round trip each.
  await Promise.all(removals);
}

/**
 * Makes the record files (PID files) of new slots that lack one,
 * empty, side by side in the thread pool: each launch then writes into its
 * slot's file instead of allocating one, which on some disks costs more than the spawn.
 */
export async function ensureRecordFiles(paths: readonly string[]): Promise<void> {
  await Promise.all(
    paths.map(async (path) => {
      // "a": made when missing, left as it is when there (a record of a process to adopt).
      // Only ahead of time: a file that cannot be made here fails its launch, which says why.
      const file = await open(path, "a", 0o644).catch(survive("process.run-dir", "make record file", { path }));
      await file?.close();
    }),
  );
}

/**
 * The service addresses, and the sockets (and socket directories) of processes 0..scale-1. A hashed one
 * lives outside the run directory, so removing that is not enough. The port's
 * kind and the service's user are not recorded: every path the port could have
 * had is removed (each is corral's own name).
 */
export async function removeSockets(runDir: string, ports: readonly string[], scale: number): Promise<void> {
  // The service addresses, `<runDir>/<port>` (a socket, or a socketDir port's directory).
  for (const port of ports) {
    const desired = join(runDir, port);
    for (const path of [desired, hashedPath(desired)]) await rm(path, { recursive: true, force: true });
  }
  for (let i = 0; i < scale; i++) {
    for (const port of ports) {
      for (const home of [runDir, join(runDir, USER_SOCKET_HOME)]) {
        const desired = join(home, `${port}-${i}`);
        for (const path of [desired, hashedPath(desired)]) await rm(path, { recursive: true, force: true });
      }
    }
  }
}

/** Names in a directory; none when it does not exist (yet, or any more). */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return [];
    throw error;
  }
}
