// Durations as compose and Kubernetes users write them: "500ms", "10s", "1m30s".
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
export const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

export const DURATION_RULE = 'must be a duration such as "500ms", "10s" or "1m30s", or a whole number of milliseconds';

/** Milliseconds for a duration string or a number of milliseconds; undefined when it does not parse. */
export function parseDurationMs(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const text = value.trim();
  if (!DURATION_PATTERN.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * UNIT_MS[unit!]!;
  const ms = Math.round(total);
  return Number.isSafeInteger(ms) ? ms : undefined;
}
