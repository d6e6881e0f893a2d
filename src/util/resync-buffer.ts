/**
 * One watcher's bounded queue. Producers never wait on it: when the consumer
 * falls `maxBuffered` events behind, the queue is dropped and the consumer's
 * next read starts from a fresh snapshot of the current state, so it loses
 * intermediate transitions, never the latest state. Every waiting `next()` is
 * woken by a push and re-checks, so overlapping reads each get their own item
 * (or the end) instead of one of them waiting for ever.
 */
export class ResyncBuffer<T> implements AsyncIterableIterator<T> {
  #queue: T[] = [];
  #head = 0;
  #resync = false;
  #done = false;
  #error: unknown = undefined;
  #waiters: (() => void)[] = [];

  constructor(
    private readonly snapshot: () => T[],
    private readonly maxBuffered: number,
    /** Called once when the buffer closes (by `close()`, `return()` or the producer). */
    private readonly onClose: () => void = () => {},
  ) {}

  push(item: T): void {
    if (this.#done || this.#resync) return;
    if (this.#queue.length - this.#head >= this.maxBuffered) {
      this.#queue = [];
      this.#head = 0;
      this.#resync = true;
    } else {
      this.#queue.push(item);
    }
    this.#notify();
  }

  /** Replaces whatever is queued with a snapshot taken now (e.g. in the tick the watcher subscribes). */
  resync(): void {
    if (this.#done) return;
    this.#resync = false;
    this.#queue = this.snapshot();
    this.#head = 0;
    this.#notify();
  }

  get closed(): boolean {
    return this.#done;
  }

  /** Ends the iteration; with an error, the consumer's next read throws it. */
  close(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    this.#queue = [];
    this.#head = 0;
    this.onClose();
    this.#notify();
  }

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.#resync && !this.#done) this.resync();
      if (this.#head < this.#queue.length) {
        const value = this.#queue[this.#head++] as T;
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
        return { value, done: false };
      }
      if (this.#done) {
        if (this.#error !== undefined) {
          const error = this.#error;
          this.#error = undefined;
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the producer failed with, as it was
          throw error;
        }
        return { value: undefined, done: true };
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  async return(): Promise<IteratorResult<T>> {
    this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
