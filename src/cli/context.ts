// What every command needs: where the state dir is, a client for its daemon,
// and exit codes scripts can rely on.
import { spawn } from "node:child_process";
import { openSync, closeSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { findProjectFile, loadProject } from "../config/project.js";
import { STATE_DIR_MODE, defaultStateDir, statePaths } from "../server/state-dir.js";
import { DaemonClient, DaemonUnavailableError } from "./client.js";

/** Exit codes: 0 ok; 1 the operation failed; 2 bad usage or bad input (nothing changed); 3 no daemon is running. */
export const EXIT = { ok: 0, failed: 1, usage: 2, noDaemon: 3 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

export interface GlobalOptions {
  stateDir?: string;
  file?: string;
}

export function resolveStateDir(options: GlobalOptions): string {
  if (options.stateDir) return resolve(options.stateDir);
  // Without -f, the project of the nearest corral.yaml here or above (as `up` finds it), else this folder.
  const file = options.file ?? findProjectFile(process.cwd());
  return resolve(defaultStateDir(file ? dirname(resolve(file)) : undefined));
}

/**
 * The environment a file names (its `environment:`, else its folder's name),
 * read as `up` reads it: `file`, else corral.yaml here or above when there is one; undefined without a file.
 */
export async function fileEnvironment(file: string | undefined): Promise<string | undefined> {
  if (file === undefined && findProjectFile(process.cwd()) === undefined) return undefined;
  return Promise.resolve(loadProject(file === undefined ? {} : { files: [file] }).state.environment);
}

export function clientFor(stateDir: string): DaemonClient {
  return new DaemonClient({ socketPath: statePaths(stateDir).socket });
}

/** A client for a daemon that must already run (exit 3 otherwise). */
export async function runningDaemon(options: GlobalOptions): Promise<DaemonClient> {
  const client = clientFor(resolveStateDir(options));
  if (!(await client.alive()))
    throw new CliError(`no corral daemon is running for ${resolveStateDir(options)} (start one with \`corral up\`)`, EXIT.noDaemon);
  return client;
}

const CLI_ENTRY = join(dirname(fileURLToPath(import.meta.url)), "main.js");

/** Starts a daemon in the background for this state dir unless one answers; resolves once it does. */
export async function ensureDaemon(stateDir: string, environment: string): Promise<DaemonClient> {
  const client = clientFor(stateDir);
  if (await client.alive()) return client;
  const paths = statePaths(stateDir);
  mkdirSync(paths.root, { recursive: true, mode: STATE_DIR_MODE });
  const log = openSync(paths.daemonLog, "a", 0o600);
  // Run the daemon from the same build as this command (dist when installed, the sources under tsx in development).
  const entry = CLI_ENTRY.endsWith(".ts") ? ["--import", "tsx", CLI_ENTRY] : [CLI_ENTRY];
  const child = spawn(process.execPath, [...entry, "daemon", "--state-dir", stateDir, "--environment", environment], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  child.unref();
  let exited: number | null = null;
  child.once("exit", (code) => (exited = code ?? 1));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await client.alive()) return client;
    if (exited !== null) throw new CliError(`the daemon exited at start (status ${String(exited)}); see ${paths.daemonLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new CliError(`the daemon did not answer within 30 s; see ${paths.daemonLog}`);
}

export { DaemonUnavailableError };
