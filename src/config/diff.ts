import type { DesiredState } from "./types.js";

export interface StateDiff {
  added: string[];
  changed: string[];
  unchanged: string[];
  removed: string[];
}

/**
 * What applying `next` over `previous` means per service, ids sorted. A
 * different environment or namespace puts every service somewhere else, so
 * then everything old is removed and everything new added.
 */
export function diffStates(previous: DesiredState | null, next: DesiredState): StateDiff {
  const diff: StateDiff = { added: [], changed: [], unchanged: [], removed: [] };
  const before = previous && previous.environment === next.environment && previous.namespace === next.namespace ? previous.services : {};
  const dropped = previous && before !== previous.services ? Object.keys(previous.services) : [];
  for (const id of Object.keys(next.services).sort()) {
    if (!Object.hasOwn(before, id)) diff.added.push(id);
    else if (deepEqual(before[id], next.services[id])) diff.unchanged.push(id);
    else diff.changed.push(id);
  }
  for (const id of Object.keys(before)) if (!Object.hasOwn(next.services, id)) dropped.push(id);
  diff.removed = dropped.sort();
  return diff;
}

/** Structural equality of JSON-like values; key order does not matter and an undefined property equals a missing one. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const key of keys) if (!deepEqual(ra[key], rb[key])) return false;
  return true;
}
