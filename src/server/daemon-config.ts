// The daemon's options as a caller gives them, and resolved once — every
// default from contract/defaults.ts — into the one config passed down whole.
import { isIP } from "node:net";
import { DAEMON_DEFAULTS } from "../contract/defaults.js";
import { ValidationError } from "../contract/errors.js";
import type { ProcessOrchestratorConfig } from "../process/orchestrator.js";

export interface DaemonOptions {
  stateDir: string;
  /** Names the environment; default: the desired state's, else the name of the folder holding the state dir. */
  environment?: string;
  /** Also serve the API on TCP (e.g. for the dashboard); refused on a non-loopback address without a token. */
  tcp?: { host: string; port: number };
  /** Bearer token for TCP; default: `<stateDir>/token`, created (0600) if missing. */
  token?: string;
  /** Serve TCP without a token: only on a loopback address. */
  noAuth?: boolean;
  launcher?: ProcessOrchestratorConfig["launcher"];
  /** How long `apply` waits for one dependency's condition. Default DAEMON_DEFAULTS.dependencyTimeoutMs. */
  dependencyTimeoutMs?: number;
  /** Log requests (pino, as fastify does). Default false. */
  logRequests?: boolean;
  /** Where the daemon's log lines go (survivable failures, one per line). Default: stderr. */
  log?: (line: string) => void;
}

export interface DaemonConfig extends Omit<DaemonOptions, "noAuth" | "dependencyTimeoutMs" | "logRequests" | "log"> {
  noAuth: boolean;
  dependencyTimeoutMs: number;
  logRequests: boolean;
  log: (line: string) => void;
}

export function resolveDaemonConfig(options: DaemonOptions): DaemonConfig {
  return {
    ...options,
    noAuth: options.noAuth ?? false,
    dependencyTimeoutMs: options.dependencyTimeoutMs ?? DAEMON_DEFAULTS.dependencyTimeoutMs,
    logRequests: options.logRequests ?? false,
    log: options.log ?? logToStderr,
  };
}

let stderrGuarded = false;
/**
 * The default log: stderr, which for a daemon `corral up` started is daemon.log.
 * A line the full disk refuses is lost, not thrown: an unhandled 'error' on
 * stderr would end the daemon, and with it the supervision of every process.
 */
function logToStderr(line: string): void {
  if (!stderrGuarded) {
    stderrGuarded = true;
    process.stderr.on("error", () => {});
  }
  process.stderr.write(`${line}\n`);
}

export function checkTcp(host: string, config: Pick<DaemonConfig, "noAuth">): void {
  if (isIP(host) === 0) throw new ValidationError("tcp.host", "must be an IP address", host);
  const loopback = host === "::1" || host.startsWith("127.");
  if (config.noAuth && !loopback) throw new ValidationError("noAuth", "is allowed only on a loopback address", host);
}
