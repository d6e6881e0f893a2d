import { ResyncBuffer } from "./resync-buffer.js";

/**
 * Fans events out to any number of watchers without ever waiting for them:
 * each watcher is a ResyncBuffer, so one that falls too far behind is
 * resynchronised with a snapshot instead of blocking the publisher or growing
 * without bound.
 */
export class EventHub<T> {
  private readonly watchers = new Set<ResyncBuffer<T>>();

  constructor(private readonly maxBuffered: number) {}

  publish(event: T): void {
    for (const watcher of this.watchers) watcher.push(event);
  }

  /** Snapshot first, then every published event, until `signal` aborts or the consumer stops. */
  subscribe(snapshot: () => T[], signal?: AbortSignal): AsyncIterableIterator<T> {
    const watcher: ResyncBuffer<T> = new ResyncBuffer(snapshot, this.maxBuffered, () => this.watchers.delete(watcher));
    // The snapshot is taken in the same tick as the subscription, so no event falls between them.
    watcher.resync();
    this.watchers.add(watcher);
    if (signal) {
      if (signal.aborted) watcher.close();
      else signal.addEventListener("abort", () => watcher.close(), { once: true });
    }
    return watcher;
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  /** Ends every watcher (the orchestrator is closing). */
  close(): void {
    for (const watcher of this.watchers) watcher.close();
  }
}
