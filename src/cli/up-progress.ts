// What `corral up` waits for, decided from the status events: every
// long-running process online and not restarted for a settle window, every job
// completed. A job that failed for good ends the wait at once; so does, for
// `up -d`, a long-running process that ended or restarted while up waited (a
// crash loop: "online for a moment" is not online).
//
// Before the apply answers, the states the events show may predate it (a job
// that failed last time and is being re-run now): only what happens live is
// judged then. Once it has answered, a fresh snapshot (rebase) is the truth.
import type { ServiceEvent } from "../contract/types.js";
import { completedForGood, failedForGood, hasEnded } from "../server/process-end.js";

export type UpOutcome =
  | { kind: "ready" }
  /** A job ended without completing and will not run again. */
  | { kind: "job-failed"; event: ServiceEvent }
  /** A long-running process ended (and will restart) or restarted while up waited for it. */
  | { kind: "crash-loop"; event: ServiceEvent };

export interface UpProgressOptions {
  /** How long a process must have been online, without a restart, to count as online. */
  settleMs: number;
  /** up -d fails on a crash loop; the foreground shows it and keeps waiting. */
  failOnCrashLoop: boolean;
}

/** A process that nothing will start again: a job that failed, or one the crash-loop breaker stopped. */
function failure(event: ServiceEvent): UpOutcome {
  return event.reason === "crash-loop" ? { kind: "crash-loop", event } : { kind: "job-failed", event };
}

const key = (service: string, index: number) => `${service}/${index}`;

/** What up waits for per service: its processes, and whether it is a one-shot job (`restart: never`) that must complete. */
export interface ExpectedService {
  scale: number;
  job: boolean;
}

export class UpProgress {
  /** Service → what the file asks for, less what the apply did not start. */
  readonly #expected: Map<string, ExpectedService>;
  readonly #latest = new Map<string, ServiceEvent>();
  readonly #onlineSince = new Map<string, number>();
  /** The restart count first seen per process: a higher one later means it restarted while up waited. */
  readonly #restartBase = new Map<string, number>();
  /** The first end or restart of a long-running process seen while up waited (snapshot restarts are judged once it is complete). */
  #crashed: ServiceEvent | undefined;
  #applied = false;
  #authoritative = false;
  #timer: NodeJS.Timeout | undefined;
  #finish!: (outcome: UpOutcome) => void;
  #finished = false;
  readonly outcome: Promise<UpOutcome>;

  constructor(
    expected: Map<string, ExpectedService>,
    private readonly options: UpProgressOptions,
  ) {
    this.#expected = new Map(expected);
    this.outcome = new Promise((resolve) => (this.#finish = resolve));
  }

  /** Whether events of this service matter to up. */
  expects(serviceId: string): boolean {
    return this.#expected.has(serviceId);
  }

  /** The latest status of one process, if any came. */
  latest(serviceId: string, index: number): ServiceEvent | undefined {
    return this.#latest.get(key(serviceId, index));
  }

  observe(event: ServiceEvent, { live }: { live: boolean }): void {
    const expected = this.#expected.get(event.serviceId);
    if (this.#finished || event.warning || event.hook || expected === undefined || event.processId >= expected.scale) return;
    const k = key(event.serviceId, event.processId);
    this.#latest.set(k, event);
    if (event.status !== "online") this.#onlineSince.delete(k);
    else if (!this.#onlineSince.has(k)) this.#onlineSince.set(k, Math.min(event.time.getTime(), Date.now()));
    const crashed = (live && hasEnded(event) && !event.final) || this.#restarted(k, event.restartCount);
    if (crashed) this.#crashed ??= event;
    if (live || this.#authoritative) {
      if (failedForGood(event)) return this.#end(failure(event));
      if (this.options.failOnCrashLoop && this.#crashed) return this.#end({ kind: "crash-loop", event: this.#crashed });
    }
    this.#evaluate();
  }

  #restarted(k: string, restartCount: number): boolean {
    const base = this.#restartBase.get(k);
    // A replaced process (a rolling change) starts counting from 0 again: that is a new base, not a restart.
    if (base === undefined || restartCount < base) this.#restartBase.set(k, restartCount);
    return base !== undefined && restartCount > base;
  }

  /** The apply answered: services it did not start (blocked, still waiting) are not waited for. */
  applied(notStarted: string[]): void {
    for (const service of notStarted) this.#expected.delete(service);
    this.#applied = true;
    this.#evaluate();
  }

  /** A new snapshot follows: it replaces every state seen so far. */
  rebase(): void {
    this.#latest.clear();
    this.#onlineSince.clear();
    this.#authoritative = false;
  }

  /** The snapshot after the apply is complete: judge it, and every event from now on. */
  snapshotComplete(): void {
    this.#authoritative = true;
    const failed = [...this.#latest.values()].find(failedForGood);
    if (failed) return this.#end(failure(failed));
    if (this.options.failOnCrashLoop && this.#crashed) return this.#end({ kind: "crash-loop", event: this.#crashed });
    this.#evaluate();
  }

  /** Processes not (yet) counted, as `<service>-<i>` with their status or "not started". */
  pending(): { name: string; event: ServiceEvent | undefined }[] {
    return this.#processes()
      .filter(({ k, job }) => !this.#counted(k, job, Date.now()))
      .map(({ name, k }) => ({ name, event: this.#latest.get(k) }));
  }

  #processes(): { name: string; k: string; job: boolean }[] {
    return [...this.#expected].flatMap(([service, { scale, job }]) =>
      Array.from({ length: scale }, (_, i) => ({ name: `${service}-${i}`, k: key(service, i), job })),
    );
  }

  #counted(k: string, job: boolean, now: number): boolean {
    const event = this.#latest.get(k);
    if (!event) return false;
    if (completedForGood(event)) return true;
    // A job counts once it has completed, however long it runs first.
    const since = this.#onlineSince.get(k);
    return !job && since !== undefined && now - since >= this.options.settleMs;
  }

  #evaluate(): void {
    clearTimeout(this.#timer);
    if (this.#finished || !this.#applied || !this.#authoritative) return;
    const now = Date.now();
    let settlesAt = now;
    for (const { k, job } of this.#processes()) {
      if (this.#counted(k, job, now)) continue;
      const since = this.#onlineSince.get(k);
      if (job || since === undefined) return; // not online, or a job still running: the next event decides
      settlesAt = Math.max(settlesAt, since + this.options.settleMs);
    }
    if (settlesAt <= now) return this.#end({ kind: "ready" });
    this.#timer = setTimeout(() => this.#evaluate(), settlesAt - now);
  }

  #end(outcome: UpOutcome): void {
    clearTimeout(this.#timer);
    this.#finished = true;
    this.#finish(outcome);
  }

  /** Stops the settle timer (up is ending for another reason). */
  close(): void {
    clearTimeout(this.#timer);
    this.#finished = true;
  }
}
