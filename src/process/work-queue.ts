/**
 * Runs tasks one at a time in submission order. A namespace applies every
 * call through one queue, so a listServices sees each ensure and drop made
 * before it; a failing task does not stop the ones behind it.
 */
export class WorkQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    // The caller gets the failure from `result`; the tail only keeps the order for the tasks behind it.
    this.tail = result.catch(() => {});
    return result;
  }

  /** Resolves once every task submitted so far has finished. */
  drain(): Promise<void> {
    return this.tail.then(() => {});
  }
}
