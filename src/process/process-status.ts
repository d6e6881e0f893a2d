import type { ServiceEvent } from "../contract/types.js";

/** The latest status of one process slot, and a way to wait for the one that matters (a rollout waits for online). */
export class ProcessStatus {
  #current: ServiceEvent;
  readonly #listeners = new Set<(event: ServiceEvent) => void>();

  constructor(initial: ServiceEvent) {
    this.#current = initial;
  }

  get current(): ServiceEvent {
    return this.#current;
  }

  set(event: ServiceEvent): void {
    this.#current = event;
    for (const listener of [...this.#listeners]) listener(event);
  }

  /** The first status (the current one, or one set from now on) that matches; undefined when none did within `timeoutMs`. */
  waitFor(predicate: (event: ServiceEvent) => boolean, timeoutMs: number): Promise<ServiceEvent | undefined> {
    if (predicate(this.#current)) return Promise.resolve(this.#current);
    return new Promise((resolve) => {
      const done = (event: ServiceEvent | undefined) => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        resolve(event);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const listener = (event: ServiceEvent) => {
        if (predicate(event)) done(event);
      };
      this.#listeners.add(listener);
    });
  }
}
