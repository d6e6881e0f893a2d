import type { RestartBackoff } from "../contract/types.js";

/**
 * The delay before each restart of one process slot. Failures in a row grow
 * the delay geometrically up to the cap; a run that lasted `resetAfterMs`
 * proves the process healthy again, so its next crash restarts quickly.
 */
export class BackoffSchedule {
  private failures = 0;

  constructor(
    private readonly settings: Required<RestartBackoff>,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next start, given how long the last run lasted (0 when it never started). */
  next(ranMs: number): number {
    if (ranMs >= this.settings.resetAfterMs) this.failures = 0;
    const { initialMs, maxMs, multiplier, jitter } = this.settings;
    const base = Math.min(maxMs, initialMs * multiplier ** this.failures);
    this.failures++;
    const spread = base * jitter * (2 * this.random() - 1);
    return Math.max(0, Math.min(maxMs, Math.round(base + spread)));
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}
