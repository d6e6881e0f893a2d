import { setTimeout as sleep } from "node:timers/promises";
import { isTransient, toApiError, type ApiCall } from "./errors.js";

export interface RetryOptions {
  /** Tries in all, including the first (default 8). */
  attempts?: number;
  /** Delay before the first retry (default 200 ms); doubles each time. */
  initialDelayMs?: number;
  /** Upper bound of one delay (default 10 s). */
  maxDelayMs?: number;
}

/**
 * Runs one API call, retrying transient failures (unreachable server, 429, 5xx)
 * with capped exponential back-off and full jitter. Other failures, and the last
 * transient one, are thrown as KubernetesApiError naming the call.
 */
export async function withRetry<T>(call: ApiCall, fn: () => Promise<T>, options: RetryOptions = {}, signal?: AbortSignal): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 8);
  const initial = options.initialDelayMs ?? 200;
  const max = options.maxDelayMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error) || signal?.aborted) throw toApiError(error, call);
      const ceiling = Math.min(max, initial * 2 ** (attempt - 1));
      await sleep(Math.random() * ceiling, undefined, signal ? { signal } : undefined);
    }
  }
}
