// Runs an async step for every item with at most `limit` of them in flight:
// Promise.all over `limit` workers that each take the next item when done.
// Rejects with the first failure, as Promise.all does; the other workers go on
// with the items left, so no item is abandoned half-way through a batch.
export async function eachLimited<T>(items: readonly T[], limit: number, step: (item: T) => Promise<void>): Promise<void> {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`eachLimited: limit must be a positive integer, got ${limit}`);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await step(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
