// Readiness probes: a process is online only once its probe passes. Socket
// and HTTP probes go over the process's Unix socket (no port to allocate, one
// connect per probe: cheap enough for hundreds of processes); exec probes run
// a command with the process's environment.
import { execFile } from "node:child_process";
import { request } from "node:http";
import { connect } from "node:net";
import type { NormalizedReadinessProbe } from "../contract/validation.js";

/** Resolves when the process is ready, rejects with the reason when it is not. */
export type Probe = (signal: AbortSignal) => Promise<void>;

export interface ReadinessCheck {
  probe: Probe;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
  /** Until the first success the probe runs this often, so a process is online soon after it listens. */
  startupPeriodMs: number;
}

export function readinessCheck(
  config: NormalizedReadinessProbe,
  listenAddrs: Record<string, string>,
  env: Record<string, string>,
): ReadinessCheck {
  let probe: Probe;
  if (config.socket !== undefined) probe = socketProbe(listenAddrs[config.socket]!);
  else if (config.http !== undefined) probe = httpProbe(listenAddrs[config.http.port]!, config.http.path);
  else probe = execProbe(config.exec!, env);
  return {
    probe,
    periodMs: config.periodMs,
    timeoutMs: config.timeoutMs,
    failureThreshold: config.failureThreshold,
    startupPeriodMs: Math.min(config.periodMs, 100),
  };
}

function socketProbe(path: string): Probe {
  return (signal) =>
    new Promise((resolve, reject) => {
      const socket = connect(path);
      const fail = (error: Error) => {
        socket.destroy();
        reject(error);
      };
      signal.addEventListener("abort", () => fail(new Error("timed out")), { once: true });
      socket.once("connect", () => {
        resolve();
        // Close politely: a server that greets each connection must not see a reset.
        socket.resume();
        socket.end();
        socket.setTimeout(1000, () => socket.destroy());
      });
      socket.once("error", fail);
    });
}

function httpProbe(socketPath: string, path: string): Probe {
  return (signal) =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath, path, method: "GET", signal, headers: { "user-agent": "corral-readiness" } }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 400) resolve();
        else reject(new Error(`HTTP ${status}`));
      });
      req.once("error", reject);
      req.end();
    });
}

function execProbe(argv: string[], env: Record<string, string>): Probe {
  return (signal) =>
    new Promise((resolve, reject) => {
      execFile(argv[0]!, argv.slice(1), { signal, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 }, (error) =>
        error ? reject(error) : resolve(),
      );
    });
}

/** Runs one probe with its timeout; true when it passed. */
export async function probeOnce(check: ReadinessCheck): Promise<boolean> {
  const signal = AbortSignal.timeout(check.timeoutMs);
  try {
    await check.probe(signal);
    return true;
  } catch {
    return false;
  }
}
