import type { z } from "zod";

/**
 * The record in `text` when it is JSON that matches `schema`; null otherwise: a
 * torn write, a foreign file or one an older version wrote is not ours to act on.
 */
export function parseJsonRecord<T>(text: string, schema: z.ZodType<T>): T | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null; // not JSON: see above, there is nothing to act on and nothing broke
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : null;
}
