// The crash-loop breaker of one process slot (PM2's max_restarts, supervisord's
// startretries, systemd's StartLimitBurst): failed starts are counted in a
// sliding window, and more than the limit ends the restarts. Without a limit
// the slot keeps restarting, but still says so once it fails quickly again and again.
import { SERVICE_DEFAULTS } from "../contract/defaults.js";
import type { NormalizedRestartLimit } from "../contract/validation.js";

export class CrashLoopBreaker {
  readonly #failures: number[] = [];

  constructor(
    private readonly limit: NormalizedRestartLimit | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Records a failed start (an end other than a completion). Returns the
   * verdict of the breaker: a message when the slot must not be restarted.
   */
  failed(): string | undefined {
    if (!this.limit) return undefined;
    const now = this.now();
    this.#failures.push(now);
    while (this.#failures.length > 0 && this.#failures[0]! <= now - this.limit.windowMs) this.#failures.shift();
    if (this.#failures.length <= this.limit.maxRestarts) return undefined;
    return (
      `${this.#failures.length} failed starts within ${formatWindow(this.limit.windowMs)} (restart.maxRestarts: ${this.limit.maxRestarts}): ` +
      "not restarted again until `corral restart` or a changed config"
    );
  }
}

/** Whether `quickFailures` in a row (runs shorter than the back-off's resetAfterMs) make a slot crash-looping. */
export function isCrashLooping(quickFailures: number): boolean {
  return quickFailures >= SERVICE_DEFAULTS.crashLoopingAfter;
}

function formatWindow(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
