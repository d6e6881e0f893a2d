import { createHash } from "node:crypto";

/** Everything that decides what a process runs; two equal specs are the same process. */
export interface LaunchSpec {
  /** The image path after resolution against imageDir. */
  image: string;
  args: string[];
  env: Record<string, string>;
  /** Port name → socket path: where the process is expected to listen. */
  listenAddrs: Record<string, string>;
  /** The command wrapper after interpolation, or empty. */
  wrapper: string[];
  memoryLimit?: string;
  cpuLimit?: string;
  scratchDirectory?: string;
  /** The readiness probe, serialized: a changed probe is a changed process. */
  readiness?: string;
  workingDirectory?: string;
}

/** How a process is stopped. Not part of the spec: changing it applies in place, without a restart. */
export interface StopPolicy {
  signal: NodeJS.Signals;
  graceMs: number;
}

/**
 * The command wrapper's placeholders: `%N` is `<namespace>-<id>`, `%P:<port>`
 * the process's listen address for that port. Longer port names are replaced
 * first so `%P:http` does not eat the start of `%P:http-admin`.
 */
export function interpolate(part: string, fullId: string, listenAddrs: Record<string, string>): string {
  let out = part.replaceAll("%N", fullId);
  const names = Object.keys(listenAddrs).sort((a, b) => b.length - a.length);
  for (const name of names) out = out.replaceAll(`%P:${name}`, listenAddrs[name]!);
  return out;
}

/** The argv to exec: the wrapper (if any) followed by the image and its args, as the seed builds it. */
export function commandLine(spec: LaunchSpec): { program: string; args: string[] } {
  if (spec.wrapper.length > 0) return { program: spec.wrapper[0]!, args: [...spec.wrapper.slice(1), spec.image, ...spec.args] };
  return { program: spec.image, args: spec.args };
}

export function specHash(spec: LaunchSpec): string {
  const canonical = JSON.stringify(spec, (_key, value: unknown) =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
  return createHash("sha256").update(canonical).digest("hex").slice(0, 32);
}
