// Compose's switches for CI on foreground `up`: --abort-on-exit stops
// everything when a process ends, --exit-code-from <service> also takes the
// exit status from that service's process. One refinement over compose's
// --abort-on-container-exit: a job that others depend on (a migration) and
// that completed did its part; it does not stop the run (compose users need
// --abort-on-container-failure for that, and then lose the test runner's exit).
import type { ServiceEvent } from "../contract/types.js";
import type { DesiredState } from "../config/types.js";
import { completedForGood, hasEnded, shellExitStatus } from "../server/process-end.js";

export interface AbortOnExit {
  /** Take the exit status from this service's process (implies stopping on any exit, as in compose). */
  exitCodeFrom?: string;
}

export class RunEnder {
  /** Services some other service depends on. */
  readonly #prerequisites: Set<string>;
  #first: ServiceEvent | undefined;
  #fromService: ServiceEvent | undefined;

  constructor(
    state: DesiredState,
    private readonly rules: AbortOnExit,
  ) {
    this.#prerequisites = new Set(Object.values(state.services).flatMap((spec) => Object.keys(spec.dependsOn)));
  }

  /**
   * Records a live event; true when it is the end that stops the run. Events
   * during the stop that follows are recorded too: the chosen service's
   * process may end only then, and its status is what the run exits with.
   */
  observe(event: ServiceEvent): boolean {
    const ended = hasEnded(event) || event.reason === "stopped";
    if (ended && event.serviceId === this.rules.exitCodeFrom && event.pid !== undefined) this.#fromService ??= event;
    if (this.#first || !hasEnded(event)) return false;
    if (event.serviceId !== this.rules.exitCodeFrom && completedForGood(event) && this.#prerequisites.has(event.serviceId)) return false;
    this.#first = event;
    return true;
  }

  /** The process whose end stopped the run. */
  get trigger(): ServiceEvent | undefined {
    return this.#first;
  }

  /** compose's exit status: the chosen service's process's, else the first process's that ended. */
  exitStatus(): number {
    const source = this.rules.exitCodeFrom ? this.#fromService : this.#first;
    return source ? shellExitStatus(source) : 1;
  }
}
