// Failures corral survives on purpose (a cgroup that would not go, a log line
// that could not be written, a stale file that would not unlink) are published
// here instead of being swallowed, as undici publishes its internals: anyone
// may subscribe with node:diagnostics_channel, and the daemon writes them to
// its log. Publishing costs nothing while nobody listens.
import { channel } from "node:diagnostics_channel";

/** What `corral:survivable-error` carries. */
export interface SurvivableError {
  /** Where it happened, e.g. "process.cgroup". */
  scope: string;
  /** What was being done, e.g. "remove group". */
  operation: string;
  error: unknown;
  /** Ids that locate it (service, process index, path, ...). */
  detail?: Record<string, string | number>;
}

export const survivableErrors = channel("corral:survivable-error");

/** Reports a failure that corral survives; the caller carries on. */
export function reportSurvivable(scope: string, operation: string, error: unknown, detail?: SurvivableError["detail"]): void {
  if (!survivableErrors.hasSubscribers) return;
  const message: SurvivableError = { scope, operation, error, ...(detail ? { detail } : {}) };
  survivableErrors.publish(message);
}

/** `.catch(survive("scope", "operation"))`: a rejected promise that is reported, not lost. */
export function survive(scope: string, operation: string, detail?: SurvivableError["detail"]): (error: unknown) => void {
  return (error) => reportSurvivable(scope, operation, error, detail);
}
