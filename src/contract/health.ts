// The health model beyond readiness, shaped as Kubernetes' probes are: a
// liveness probe restarts a process that stopped answering, a startup probe
// gives a slow starter time before readiness and liveness count, and a restart
// limit (the crash-loop breaker) stops restarting a process that keeps failing.

/** What a probe checks: exactly one kind. */
export interface ProbeAction {
  /** Passes once the process accepts a connection on this port's socket. */
  socket?: string;
  /** Passes when GET <path> on this port answers 2xx or 3xx. */
  http?: { port: string; path: string };
  /** Passes when this command exits 0 (run with the process's environment). */
  exec?: string[];
}

/**
 * Restarts the process (through its restart policy) after `failureThreshold`
 * failed probes in a row: offline "liveness-failed". Kubernetes' livenessProbe.
 */
export interface LivenessProbe extends ProbeAction {
  periodMs?: number;
  timeoutMs?: number;
  failureThreshold?: number;
  /** Wait this long after the process started (after the startup probe passed, when there is one) before the first probe. */
  initialDelayMs?: number;
}

/**
 * Probes run until the first success; until then readiness and liveness do
 * not count. A process that has not passed within `deadlineMs` is killed:
 * offline "startup-timeout", then restarted by its policy. Kubernetes'
 * startupProbe (deadline = failureThreshold × periodSeconds there).
 */
export interface StartupProbe extends ProbeAction {
  /** Passes once a line of the process's stdout or stderr matches this regular expression. */
  logLine?: string;
  periodMs?: number;
  timeoutMs?: number;
  deadlineMs?: number;
}

/**
 * The crash-loop breaker: more than `maxRestarts` failed starts (ends other
 * than a completion) within `windowMs` put the process in offline "crash-loop",
 * final: it is not restarted again until it is replaced (`corral restart`, a changed config).
 */
export interface RestartLimit {
  maxRestarts: number;
  windowMs?: number;
}

export type ProbeKind = "startup" | "readiness" | "liveness";

/** The latest result of one probe of a process. */
export interface ProbeResult {
  passed: boolean;
  /** How long the probe took (for logLine: time from the start until the line). */
  durationMs: number;
  /** When it ran. */
  time: Date;
  /** Why it failed ("HTTP 503", "exit status 1", "timed out after 1000 ms"); the last failure's reason once it passes again. */
  lastError?: string;
  /** Failures in a row. */
  failures: number;
}

export type ProbeResults = Partial<Record<ProbeKind, ProbeResult>>;
