// The probes of one running process, Kubernetes' way: a startup probe first
// (until its first success or its deadline), then readiness (online/offline)
// and liveness (restart after failureThreshold failures in a row) side by
// side. logLine checks are not polled: they wait for a line of the process's
// output, read from corral's own log capture.
import type { ProbeKind, ProbeResult, ProbeResults } from "../contract/health.js";
import type { LogLine } from "../contract/types.js";
import type { NormalizedServiceConfig } from "../contract/validation.js";
import { type Probe, type ReadinessCheck, probeOf, probeOnce, readinessCheck, watchReadiness } from "./readiness.js";

export interface LivenessCheck {
  probe: Probe;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
  initialDelayMs: number;
}

export interface StartupCheck {
  /** Unused when `logLine` is set. */
  probe: Probe;
  logLine?: RegExp;
  periodMs: number;
  timeoutMs: number;
  deadlineMs: number;
}

export interface HealthChecks {
  startup?: StartupCheck;
  readiness?: ReadinessCheck;
  liveness?: LivenessCheck;
}

/** The checks of a service's config for one process (its listen addresses and environment); undefined without any probe. */
export function healthChecks(
  config: Pick<NormalizedServiceConfig, "readiness" | "liveness" | "startup">,
  listenAddrs: Record<string, string>,
  env: Record<string, string>,
): HealthChecks | undefined {
  const checks: HealthChecks = {};
  if (config.readiness) checks.readiness = readinessCheck(config.readiness, listenAddrs, env);
  if (config.liveness) {
    const { periodMs, timeoutMs, failureThreshold, initialDelayMs } = config.liveness;
    checks.liveness = { probe: probeOf(config.liveness, listenAddrs, env), periodMs, timeoutMs, failureThreshold, initialDelayMs };
  }
  if (config.startup) {
    const { periodMs, timeoutMs, deadlineMs, logLine } = config.startup;
    checks.startup = {
      probe: logLine !== undefined ? () => Promise.reject(new Error("not polled")) : probeOf(config.startup, listenAddrs, env),
      ...(logLine !== undefined ? { logLine: new RegExp(logLine) } : {}),
      periodMs,
      timeoutMs,
      deadlineMs,
    };
  }
  return checks.readiness || checks.liveness || checks.startup ? checks : undefined;
}

export interface HealthHooks {
  /** False once the process is gone or being stopped: probing ends. */
  active(): boolean;
  /** Subscribes to the process's output lines, those it printed since it started included; returns the unsubscribe. */
  followLines(listener: (line: LogLine) => void): () => void;
  /** Readiness passed (or there is none and startup passed). */
  onReady(): void;
  /** Still starting (startup or readiness not passed yet), and why. */
  onStarting(message: string): void;
  /** Readiness failed failureThreshold times in a row after it had passed. */
  onFailing(message: string): void;
  /** The startup probe did not pass within its deadline: the process must go. */
  onStartupTimeout(message: string, results: ProbeResults): void;
  /** The liveness probe failed failureThreshold times in a row: the process must go. */
  onLivenessFailed(message: string, results: ProbeResults): void;
  /**
   * Every probe's latest results, after each probe. `changed`: a liveness or
   * startup result changed (passed ↔ failed, or a new reason), which is news
   * of its own; readiness changes are news through onReady/onFailing/onStarting.
   */
  onProbes(results: ProbeResults, changed: boolean): void;
}

/** Probes one process until it is no longer active, its startup deadline passed or its liveness failed. */
export function watchHealth(checks: HealthChecks, hooks: HealthHooks): { stop(): void } {
  const startedAt = performance.now();
  const cleanups: (() => void)[] = [];
  let stopped = false;
  const active = () => !stopped && hooks.active();
  const stop = () => {
    stopped = true;
    for (const cleanup of cleanups.splice(0)) cleanup();
  };
  const timer = (fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    cleanups.push(() => clearTimeout(t));
  };

  const results: ProbeResults = {};
  const record = (kind: ProbeKind, failure: string | null, durationMs: number, failures: number) => {
    const previous = results[kind];
    const lastError = failure ?? previous?.lastError;
    const result: ProbeResult = {
      passed: failure === null,
      durationMs: Math.round(durationMs),
      time: new Date(),
      failures,
      ...(lastError !== undefined ? { lastError } : {}),
    };
    results[kind] = result;
    // Said on change only: a probe passing every second is one event, not one a second.
    const changed = !previous || previous.passed !== result.passed || (failure !== null && failure !== previous.lastError);
    hooks.onProbes({ ...results }, changed && kind !== "readiness");
  };

  /** Waits for a line matching `pattern`; calls `matched` once, with how long it took since the start. */
  const awaitLine = (pattern: RegExp, matched: (durationMs: number) => void) => {
    let done = false;
    const unsubscribe = hooks.followLines((line) => {
      if (done || !pattern.test(line.line)) return;
      done = true;
      // Off the emitter's stack: the hooks may stop the process, which reads the same log.
      queueMicrotask(() => {
        unsubscribe();
        if (active()) matched(performance.now() - startedAt);
      });
    });
    cleanups.push(unsubscribe);
  };

  const main = () => {
    const { readiness, liveness } = checks;
    if (!readiness) hooks.onReady();
    else if (readiness.logLine) {
      const pattern = readiness.logLine;
      hooks.onStarting(`waiting for a line matching /${pattern.source}/`);
      awaitLine(pattern, (durationMs) => {
        record("readiness", null, durationMs, 0);
        hooks.onReady();
      });
    } else {
      const watch = watchReadiness(readiness, {
        active,
        onReady: () => hooks.onReady(),
        onStarting: (message) => hooks.onStarting(message),
        onFailing: (message) => hooks.onFailing(message),
        onResult: (failure, durationMs, failures) => record("readiness", failure, durationMs, failures),
      });
      cleanups.push(() => watch.stop());
    }
    if (liveness) {
      let failures = 0;
      const tick = async () => {
        if (!active()) return;
        const probeStart = performance.now();
        const failure = await probeOnce(liveness);
        if (!active()) return;
        failures = failure === null ? 0 : failures + 1;
        record("liveness", failure, performance.now() - probeStart, failures);
        if (failure !== null && failures >= liveness.failureThreshold) {
          stop();
          hooks.onLivenessFailed(`liveness probe failed ${failures} times in a row: ${failure}`, { ...results });
          return;
        }
        timer(() => void tick(), liveness.periodMs);
      };
      timer(() => void tick(), liveness.initialDelayMs);
    }
  };

  const { startup } = checks;
  if (!startup) {
    main();
    return { stop };
  }
  let passed = false;
  let lastFailure: string | undefined;
  const pass = (durationMs: number) => {
    if (passed || !active()) return;
    passed = true;
    record("startup", null, durationMs, 0);
    main();
  };
  timer(() => {
    if (passed || !active()) return;
    stop();
    hooks.onStartupTimeout(`startup probe did not pass within ${startup.deadlineMs} ms${lastFailure ? `: ${lastFailure}` : ""}`, {
      ...results,
    });
  }, startup.deadlineMs);
  if (startup.logLine) {
    const pattern = startup.logLine;
    hooks.onStarting(`startup: waiting for a line matching /${pattern.source}/`);
    awaitLine(pattern, pass);
  } else {
    let failures = 0;
    const tick = async () => {
      if (!active() || passed) return;
      const probeStart = performance.now();
      const failure = await probeOnce(startup);
      if (!active() || passed) return;
      if (failure === null) return pass(performance.now() - probeStart);
      failures++;
      record("startup", failure, performance.now() - probeStart, failures);
      if (failure !== lastFailure) hooks.onStarting(`startup: ${(lastFailure = failure)}`);
      timer(() => void tick(), startup.periodMs);
    };
    timer(() => void tick(), 0);
  }
  return { stop };
}
