/**
 * Fans events out to any number of watchers without ever waiting for them.
 * Each watcher has a bounded buffer; a watcher that falls that far behind is
 * not allowed to block the publisher or to grow without bound: its buffer is
 * dropped and, when it next reads, it gets a fresh snapshot of the current
 * state instead. It loses intermediate transitions, never the latest state.
 */
export class EventHub<T> {
  private readonly watchers = new Set<Watcher<T>>();

  constructor(private readonly maxBuffered = 10_000) {}

  publish(event: T): void {
    for (const watcher of this.watchers) watcher.push(event);
  }

  /** Snapshot first, then every published event, until `signal` aborts or the consumer stops. */
  subscribe(snapshot: () => T[], signal?: AbortSignal): AsyncIterableIterator<T> {
    const watcher = new Watcher<T>(snapshot, this.maxBuffered, () => this.watchers.delete(watcher));
    // The snapshot is taken in the same tick as the subscription, so no event falls between them.
    watcher.resync();
    this.watchers.add(watcher);
    if (signal) {
      if (signal.aborted) watcher.finish();
      else signal.addEventListener("abort", () => watcher.finish(), { once: true });
    }
    return watcher;
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  /** Ends every watcher (the orchestrator is closing). */
  close(): void {
    for (const watcher of this.watchers) watcher.finish();
  }
}

class Watcher<T> implements AsyncIterableIterator<T> {
  private buffer: T[] = [];
  private head = 0;
  private needsResync = false;
  private done = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly snapshot: () => T[],
    private readonly maxBuffered: number,
    private readonly detach: () => void,
  ) {}

  push(event: T): void {
    if (this.done || this.needsResync) return;
    if (this.buffer.length - this.head >= this.maxBuffered) {
      this.buffer = [];
      this.head = 0;
      this.needsResync = true;
    } else {
      this.buffer.push(event);
    }
    this.notify();
  }

  resync(): void {
    this.buffer = this.snapshot();
    this.head = 0;
    this.needsResync = false;
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.buffer = [];
    this.detach();
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.done) return { done: true, value: undefined };
      if (this.needsResync) this.resync();
      if (this.head < this.buffer.length) {
        const value = this.buffer[this.head++] as T;
        if (this.head > 1024 && this.head * 2 > this.buffer.length) {
          this.buffer = this.buffer.slice(this.head);
          this.head = 0;
        }
        return { done: false, value };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async return(): Promise<IteratorResult<T>> {
    this.finish();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
