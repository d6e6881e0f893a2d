// Every file corral keeps for a service, named in one place. The run directory
// `<stateDir>/<namespace>-<id>` holds:
//   <i>.pid                the PID record of process i (identity.ts)
//   <i>.stdout, <i>.stderr the named pipes process i writes its output into (logs.ts)
//   <port>-<i>             the Unix socket of process i for a port (or a hashed path in the temp dir)
//   <i>.secrets/           the files of the secrets process i reads, while it runs (secret-files.ts)
//   service.json           what the directory belongs to (service-manifest.ts)
// and beside it `<logDir>/<namespace>-<id>-<i>.log[.N]` (rotated logs) and, with
// `disk`, the scratch directory `<scratchDirectory>/<namespace>-<id>`.
import { createHash } from "node:crypto";
import { readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isErrno } from "../util/errno.js";
import { removeSecretFiles } from "./secret-files.js";

/** Where a service's files go; every path below is derived from these. */
export interface ServicePaths {
  /** `<namespace>-<id>`: names the run directory, the log files, the scratch directory and the cgroups. */
  fullId: string;
  runDir: string;
  logDir: string;
  /** Set when the service asked for a scratch directory. */
  scratchDir?: string;
}

/** The roots a ProcessOrchestrator keeps its files under. */
export interface StateLayout {
  stateDir: string;
  logDir: string;
  scratchDirectory: string;
}

export function fullIdOf(namespace: string, id: string): string {
  return `${namespace}-${id}`;
}

export function servicePaths(layout: StateLayout, namespace: string, id: string, disk = false): ServicePaths {
  const fullId = fullIdOf(namespace, id);
  return {
    fullId,
    runDir: join(layout.stateDir, fullId),
    logDir: layout.logDir,
    ...(disk ? { scratchDir: join(layout.scratchDirectory, fullId) } : {}),
  };
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

/** `<runDir>/<port>-<i>`, or a hashed name in the temp dir when that path is too long to bind. */
export function socketPath(runDir: string, port: string, processIndex: number): string {
  const desired = join(runDir, `${port}-${processIndex}`);
  if (Buffer.byteLength(desired) <= MAX_SOCKET_PATH_BYTES) return desired;
  return join(tmpdir(), createHash("sha1").update(desired).digest("hex"));
}

/** Port name → socket path for one process. */
export function listenAddresses(runDir: string, ports: readonly { name: string }[], processIndex: number): Record<string, string> {
  return Object.fromEntries(ports.map((p) => [p.name, socketPath(runDir, p.name, processIndex)]));
}

const PID_FILE = /^(\d+)\.pid$/;
const FIFO_FILE = /^(\d+)\.(stdout|stderr)$/;
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
  for (const name of await listDir(paths.logDir)) {
    const match = LOG_FILE.exec(name.startsWith(prefix) ? name.slice(prefix.length) : "");
    if (match && Number(match[1]) >= from) await rm(join(paths.logDir, name), { force: true });
  }
  for (const name of await listDir(paths.runDir)) {
    const match = FIFO_FILE.exec(name);
    if (match && Number(match[1]) >= from) await rm(join(paths.runDir, name), { force: true });
    const secrets = SECRETS_DIR.exec(name);
    if (secrets && Number(secrets[1]) >= from) await removeSecretFiles(join(paths.runDir, name));
  }
}

/** The sockets of processes 0..scale-1: a hashed one lives outside the run directory, so removing that is not enough. */
export async function removeSockets(runDir: string, ports: readonly string[], scale: number): Promise<void> {
  for (let i = 0; i < scale; i++) {
    for (const path of Object.values(
      listenAddresses(
        runDir,
        ports.map((name) => ({ name })),
        i,
      ),
    ))
      await rm(path, { force: true });
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
