// "did you mean": the known field nearest to a misspelt one. Compose's names
// (env_file, depends_on, working_dir, ...) are recognised too, since people
// coming from compose type them first.
import type { z } from "zod";
import type { FieldPath } from "./field-path.js";

/** Compose's spelling of a field → corral's, where they differ by more than case and underscores. */
const COMPOSE_NAMES: Record<string, string> = {
  environment: "env",
  working_dir: "workingDirectory",
  healthcheck: "readiness",
  replicas: "scale",
  entrypoint: "command",
  stop_grace_period: "stopGracePeriod",
  mem_limit: "memory",
  cpus: "cpu",
  env_file: "envFile",
  depends_on: "dependsOn",
};

/** The field `key` was probably meant to be, among `known`; undefined when none is close. */
export function suggestField(key: string, known: readonly string[]): string | undefined {
  const alias = COMPOSE_NAMES[key];
  if (alias !== undefined && known.includes(alias)) return alias;
  const squash = (s: string) => s.replace(/[_-]/g, "").toLowerCase();
  const exact = known.find((k) => squash(k) === squash(key));
  if (exact !== undefined) return exact;
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(squash(key), squash(name));
    if (distance <= Math.max(1, Math.floor(name.length / 3)) && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** The keys a mapping at `path` of input checked by `schema` may have; empty when it is not a fixed-field mapping. */
export function knownKeysAt(schema: z.ZodType, path: FieldPath): string[] {
  let nodes: z.core.$ZodType[] = [schema];
  for (const segment of path) nodes = nodes.flatMap((n) => childrenOf(n, segment));
  return [...new Set(nodes.flatMap((n) => objectsOf(n).flatMap((o) => Object.keys(o._zod.def.shape))))];
}

function unwrap(node: z.core.$ZodType): z.core.$ZodType[] {
  const def = node._zod.def as unknown as Record<string, unknown> & { type: string };
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "nonoptional":
      return unwrap(def.innerType as z.core.$ZodType);
    case "pipe":
      return unwrap(def.in as z.core.$ZodType);
    case "union":
      return (def.options as z.core.$ZodType[]).flatMap(unwrap);
    default:
      return [node];
  }
}

function objectsOf(node: z.core.$ZodType): z.core.$ZodObject[] {
  return unwrap(node).filter((n): n is z.core.$ZodObject => n._zod.def.type === "object");
}

function childrenOf(node: z.core.$ZodType, segment: string | number): z.core.$ZodType[] {
  return unwrap(node).flatMap((n) => {
    const def = n._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === "object") {
      const child = (def.shape as Record<string, z.core.$ZodType>)[String(segment)];
      return child ? [child] : [];
    }
    if (def.type === "record") return [def.valueType as z.core.$ZodType];
    if (def.type === "array" && typeof segment === "number") return [def.element as z.core.$ZodType];
    return [];
  });
}

/** Edits (insert, delete, substitute, swap two neighbours) from a to b: "scael" is one swap from "scale". */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
