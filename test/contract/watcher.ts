// Reads a watchServices stream for the suite: bounded waits on events (never
// sleeps), the latest state of each process, and everything seen, for messages.
import type { ServiceEvent } from "../../src/contract/types.js";

export const key = (e: Pick<ServiceEvent, "serviceId" | "processId">): string => `${e.serviceId}/${e.processId}`;

export function brief(e: ServiceEvent): string {
  return `${key(e)}:${e.status}${e.reason ? `(${e.reason})` : ""}#${e.restartCount}`;
}

export class Watcher {
  readonly seen: ServiceEvent[] = [];
  readonly latest = new Map<string, ServiceEvent>();
  readonly #events: AsyncIterator<ServiceEvent>;

  constructor(
    stream: AsyncIterable<ServiceEvent>,
    private readonly boundMs: number,
  ) {
    this.#events = stream[Symbol.asyncIterator]();
  }

  /** The next event; fails when the stream ends or nothing comes within the bound. */
  async next(what = "an event"): Promise<ServiceEvent> {
    const result = await this.#raw(what);
    if (result.done) throw new Error(`the watch ended while waiting for ${what}; saw ${this.#recent()}`);
    this.seen.push(result.value);
    this.latest.set(key(result.value), result.value);
    return result.value;
  }

  /** The stream's next result as it comes, done included; bounded. */
  async #raw(what: string): Promise<IteratorResult<ServiceEvent>> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`gave up after ${this.boundMs} ms waiting for ${what}; saw ${this.#recent()}`)),
        this.boundMs,
      );
    });
    try {
      return await Promise.race([this.#events.next(), bound]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the stream has ended (the next read says done); bounded. */
  async ended(): Promise<boolean> {
    const result = await this.#raw("the end of the watch");
    if (!result.done) {
      this.seen.push(result.value);
      this.latest.set(key(result.value), result.value);
    }
    return result.done === true;
  }

  /** Reads until `done()` holds (checked before the first read too); returns the events read meanwhile. */
  async until(done: () => boolean, what: string): Promise<ServiceEvent[]> {
    const read: ServiceEvent[] = [];
    while (!done()) read.push(await this.next(what));
    return read;
  }

  /** Reads until an event matches; returns it. */
  async untilEvent(predicate: (e: ServiceEvent) => boolean, what: string): Promise<ServiceEvent> {
    for (;;) {
      const e = await this.next(what);
      if (predicate(e)) return e;
    }
  }

  isOnline(serviceId: string, processId: number): boolean {
    return this.latest.get(`${serviceId}/${processId}`)?.status === "online";
  }

  /** Reads until processes 0..count-1 of the service are online; returns the events read meanwhile. */
  online(serviceId: string, count: number): Promise<ServiceEvent[]> {
    return this.until(
      () => Array.from({ length: count }, (_, i) => this.isOnline(serviceId, i)).every(Boolean),
      `${serviceId}/0..${count - 1} online`,
    );
  }

  async close(): Promise<void> {
    await this.#events.return?.();
  }

  #recent(): string {
    return JSON.stringify(this.seen.slice(-12).map(brief));
  }
}
