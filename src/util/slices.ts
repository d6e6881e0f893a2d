import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * Maps items in slices of `size`, slice k starting k turns of the event loop
 * after the first, so synchronous work inside `fn` (reading pseudo-files) never
 * holds the loop for more than one slice, while awaits inside `fn` (a sampling
 * window) still overlap across all of them. Results keep the order of `items`.
 */
export async function mapInSlices<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const slices: Promise<R[]>[] = [];
  let turns: Promise<unknown> = Promise.resolve();
  for (let start = 0; start < items.length; start += size) {
    const slice = items.slice(start, start + size);
    slices.push(turns.then(() => Promise.all(slice.map(fn))));
    turns = turns.then(() => nextTurn());
  }
  return (await Promise.all(slices)).flat();
}
