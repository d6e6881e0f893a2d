/**
 * Wraps an idempotent sweep so that any number of callers cost at most two runs
 * at a time: a caller arriving while a run is under way waits for one shared
 * run that starts after it, so each caller still sees a sweep begun after its call.
 */
export function coalesced(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  const start = (): Promise<void> => {
    const run = task().finally(() => {
      if (running === run) running = null;
    });
    running = run;
    return run;
  };
  return () => {
    if (running === null) return start();
    queued ??= running
      .catch(() => undefined) // the earlier run's caller hears its failure; this run is a new attempt
      .then(() => {
        queued = null;
        return start();
      });
    return queued;
  };
}
