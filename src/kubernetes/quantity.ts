// Decimal suffixes as powers of ten, binary ones as factors.
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** A Kubernetes resource quantity ("250m", "1Gi", "123456n", "1e3") as a number; undefined if it is not one. */
export function parseQuantity(input: string | undefined): number | undefined {
  if (input === undefined) return undefined;
  const match = /^\+?(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/.exec(input.trim());
  if (!match) return undefined;
  const base = Number(match[1]);
  const suffix = match[3] ?? "";
  if (Object.hasOwn(BINARY, suffix)) return base * BINARY[suffix]!;
  const exponent = match[2] !== undefined ? Number(match[2]) : DECIMAL[suffix]!;
  // Dividing by an exact power of ten keeps "123456789n" exact where multiplying by 1e-9 would not.
  return exponent < 0 ? base / 10 ** -exponent : base * 10 ** exponent;
}
