// Readiness probes: a process is online only once its probe passes. Socket
// and HTTP probes go over the process's Unix socket (no port to allocate, one
// connect per probe: cheap enough for hundreds of processes); exec probes run
// a command with the process's environment.
import { execFile } from "node:child_process";
import { connect } from "node:net";
import type { ProbeAction } from "../contract/health.js";
import type { NormalizedReadinessProbe } from "../contract/validation.js";

/** Resolves when the process is ready, rejects with the reason when it is not. */
export type Probe = (signal: AbortSignal) => Promise<void>;

export interface ReadinessCheck {
  /** What is probed; for a logLine check (`logLine` set) it is never called: the line is waited for instead. */
  probe: Probe;
  /** Ready once a line of the process's output matches (and from then on). */
  logLine?: RegExp;
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
  return {
    ...(config.logLine !== undefined
      ? { probe: logLineOnly, logLine: new RegExp(config.logLine) }
      : { probe: probeOf(config, listenAddrs, env) }),
    periodMs: config.periodMs,
    timeoutMs: config.timeoutMs,
    failureThreshold: config.failureThreshold,
    startupPeriodMs: Math.min(config.periodMs, 100),
  };
}

/** The probe of a socket, http or exec check (a logLine check is not polled). */
export function probeOf(action: ProbeAction, listenAddrs: Record<string, string>, env: Record<string, string>): Probe {
  if (action.socket !== undefined) return socketProbe(listenAddrs[action.socket]!);
  if (action.http !== undefined) return httpProbe(listenAddrs[action.http.port]!, action.http.path);
  return execProbe(action.exec!, env);
}

const logLineOnly: Probe = () => Promise.reject(new Error("a logLine check is not polled"));

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

// Loaded with the first HTTP probe: node:http is ~1.3 MiB a host without one never needs.
let http: Promise<typeof import("node:http")> | undefined;

function httpProbe(socketPath: string, path: string): Probe {
  return async (signal) => {
    const { request } = await (http ??= import("node:http"));
    return new Promise((resolve, reject) => {
      const req = request({ socketPath, path, method: "GET", signal, headers: { "user-agent": "corral-readiness" } }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 400) resolve();
        else reject(new Error(`HTTP ${status}`));
      });
      req.once("error", reject);
      req.end();
    });
  };
}

function execProbe(argv: string[], env: Record<string, string>): Probe {
  return (signal) =>
    new Promise((resolve, reject) => {
      execFile(argv[0]!, argv.slice(1), { signal, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 }, (error) => {
        if (!error) return resolve();
        // execFile's message repeats the command line and its output; what failed is the status.
        if (typeof error.code === "number") reject(new Error(`exit status ${error.code}`));
        else if (error.signal && !signal.aborted) reject(new Error(`killed by ${error.signal}`));
        else reject(error);
      });
    });
}

/** Runs one probe with its timeout; null when it passed, else why it failed ("HTTP 503", "exit status 1", ...). */
export async function probeOnce(check: Pick<ReadinessCheck, "probe" | "timeoutMs">): Promise<string | null> {
  const signal = AbortSignal.timeout(check.timeoutMs);
  try {
    await check.probe(signal);
    return null;
  } catch (error) {
    // A failed probe is the answer, not an error: its reason goes into the process's status.
    if (signal.aborted) return `timed out after ${check.timeoutMs} ms`;
    return error instanceof Error ? error.message : String(error);
  }
}

export interface ReadinessHooks {
  /** False once the process is gone or being stopped: probing ends. */
  active(): boolean;
  /** The first probe passed, or one passed after onFailing. */
  onReady(): void;
  /** A probe failed before the first success, for a reason other than the previous failure's: why it is still starting. */
  onStarting(message: string): void;
  /** failureThreshold probes in a row failed after the process had been ready. */
  onFailing(message: string): void;
  /** Every probe's outcome: null when it passed, else why not; how long it took; failures in a row. */
  onResult?(failure: string | null, durationMs: number, failures: number): void;
}

/**
 * Probes a process until it is no longer active. Before its first success a
 * process is starting, not failing, and is probed at startupPeriodMs so it is
 * online soon after it listens; from then on every periodMs.
 */
export function watchReadiness(check: ReadinessCheck, hooks: ReadinessHooks): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let ready = false;
  let online = false;
  let failures = 0;
  // Said once per distinct reason: a probe failing the same way every 100 ms is one event, not a flood.
  let startingMessage: string | undefined;
  const active = () => !stopped && hooks.active();
  const tick = async () => {
    if (!active()) return;
    const startedAt = performance.now();
    const failure = await probeOnce(check);
    if (!active()) return;
    hooks.onResult?.(failure, performance.now() - startedAt, failure === null ? 0 : failures + 1);
    if (failure === null) {
      failures = 0;
      if (!online) {
        ready = online = true;
        hooks.onReady();
      }
    } else if (!ready) {
      if (failure !== startingMessage) hooks.onStarting((startingMessage = failure));
    } else if (++failures === check.failureThreshold) {
      online = false;
      hooks.onFailing(`readiness probe failed ${check.failureThreshold} times in a row: ${failure}`);
    }
    timer = setTimeout(() => void tick(), ready ? check.periodMs : check.startupPeriodMs);
  };
  timer = setTimeout(() => void tick(), 0);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
