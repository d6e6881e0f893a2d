// What every command needs: where the state dir is, a client for its daemon,
// and exit codes scripts can rely on.
import { spawn } from "node:child_process";
import { openSync, closeSync, mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { findProjectFile } from "../config/project-file.js";
import { STATE_DIR_MODE, defaultStateDir, statePaths } from "../server/state-dir.js";
import { healthBody } from "../server/wire.js";
import { ApiError, DaemonClient, DaemonGoneError, DaemonUnavailableError } from "./client.js";

import { CliError, EXIT } from "./exit.js";

export { CliError, EXIT };

export interface GlobalOptions {
  stateDir?: string;
  /** The first -f/--file: its folder is the project's (its .corral state dir), as compose takes the first file's. */
  file?: string;
  /** Every -f/--file, in order (later ones override earlier ones once the loader merges them). */
  files?: string[];
  /** --host / $CORRAL_HOST: a daemon's TCP listener (http://host:port) instead of the state dir's socket. */
  host?: string;
  /** --token-file: the bearer token for --host (else $CORRAL_TOKEN). */
  tokenFile?: string;
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
  // Loaded here, not with this module: parsing a project loads the config schema, which `ps` and `logs` never need.
  const { loadProject } = await import("../config/project.js");
  return loadProject(file === undefined ? {} : { files: [file] }).state.environment;
}

export function clientFor(stateDir: string): DaemonClient {
  return new DaemonClient({ socketPath: statePaths(stateDir).socket });
}

/** --host (or $CORRAL_HOST) when given: the command talks to that daemon over TCP. */
export function remoteHost(options: GlobalOptions): string | undefined {
  return options.host ?? (process.env.CORRAL_HOST || undefined);
}

/** A client for the daemon the options name: --host/$CORRAL_HOST over TCP with its token, else the state dir's socket. */
export function clientOf(options: GlobalOptions): DaemonClient {
  const host = remoteHost(options);
  if (host === undefined) return clientFor(resolveStateDir(options));
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(host) ? host : `http://${host}`);
  } catch {
    throw new CliError(`--host ${host}: must be a URL such as http://127.0.0.1:7700`, EXIT.usage);
  }
  if (url.protocol !== "http:") throw new CliError(`--host ${host}: only http:// is supported`, EXIT.usage);
  let token = process.env.CORRAL_TOKEN || undefined;
  if (options.tokenFile !== undefined) {
    try {
      token = readFileSync(options.tokenFile, "utf8").trim();
    } catch (error) {
      throw new CliError(`--token-file ${options.tokenFile}: ${error instanceof Error ? error.message : String(error)}`, EXIT.usage);
    }
  }
  return new DaemonClient({
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port ? Number(url.port) : 80,
    ...(token ? { token } : {}),
  });
}

function remoteRefusal(options: GlobalOptions): (error: unknown) => never {
  return (error) => {
    if (error instanceof DaemonUnavailableError)
      throw new CliError(`no corral daemon answers at ${daemonLocation(options)}`, EXIT.noDaemon);
    if (error instanceof ApiError && error.status === 401)
      throw new CliError(`${daemonLocation(options)} refused the request: ${error.message} (pass --token-file or set CORRAL_TOKEN)`);
    throw error;
  };
}

/** Where the daemon the options name is, for messages. */
export function daemonLocation(options: GlobalOptions): string {
  return remoteHost(options) ?? resolveStateDir(options);
}

function noDaemon(options: GlobalOptions): CliError {
  return new CliError(`no corral daemon is running for ${resolveStateDir(options)} (start one with \`corral up\`)`, EXIT.noDaemon);
}

/** A client for a daemon that must already run (exit 3 otherwise). */
export async function runningDaemon(options: GlobalOptions): Promise<DaemonClient> {
  const client = clientOf(options);
  // Over TCP a refused token is told apart from no daemon: the user fixes one, not the other.
  if (remoteHost(options) !== undefined) await client.text("/healthz").catch(remoteRefusal(options));
  else if (!(await client.alive())) throw noDaemon(options);
  return client;
}

/**
 * The calls of a command that needs a running daemon, made without asking first
 * whether one runs (a round trip `ps` would wait for): no daemon at the socket
 * fails them as runningDaemon would (exit 3).
 */
export async function withRunningDaemon<T>(options: GlobalOptions, calls: (client: DaemonClient) => Promise<T>): Promise<T> {
  if (remoteHost(options) !== undefined) return calls(await runningDaemon(options));
  try {
    return await calls(clientOf(options));
  } catch (error) {
    if (error instanceof DaemonUnavailableError && !(error instanceof DaemonGoneError)) throw noDaemon(options);
    throw error;
  }
}

const CLI_ENTRY = join(dirname(fileURLToPath(import.meta.url)), "main.js");

/** Starts a daemon in the background for this state dir unless one answers; resolves once it does. */
export async function ensureDaemon(stateDir: string, environment: string, options: { tcp?: string } = {}): Promise<DaemonClient> {
  const client = clientFor(stateDir);
  if (await client.alive()) {
    if (options.tcp !== undefined) await ensureTcp(client, options.tcp);
    return client;
  }
  const paths = statePaths(stateDir);
  mkdirSync(paths.root, { recursive: true, mode: STATE_DIR_MODE });
  const log = openSync(paths.daemonLog, "a", 0o600);
  // Run the daemon from the same build as this command (dist when installed, the sources under tsx in development).
  const entry = CLI_ENTRY.endsWith(".ts") ? ["--import", "tsx", CLI_ENTRY] : [CLI_ENTRY];
  const tcp = options.tcp === undefined ? [] : ["--tcp", options.tcp];
  const child = spawn(process.execPath, [...entry, "daemon", "--state-dir", stateDir, "--environment", environment, ...tcp], {
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

/** A daemon that runs already serves --tcp only if it was started with that address: it is not moved under its clients. */
async function ensureTcp(client: DaemonClient, tcp: string): Promise<void> {
  const { tcpAddress } = await client.get("/healthz", healthBody);
  const wanted = tcp.replace(/^\[|\]$/g, "");
  if (tcpAddress === wanted || tcpAddress === tcp) return;
  throw new CliError(
    `the daemon runs already ${tcpAddress ? `with its TCP listener on ${tcpAddress}` : "without a TCP listener"}; \`corral down\` first to serve ${tcp}`,
    EXIT.usage,
  );
}
