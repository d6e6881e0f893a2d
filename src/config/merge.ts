// Several files as one, by compose's merge rules (compose-spec "merge"):
// mappings are merged key by key, the later file winning; a scalar or a list
// is replaced, except the lists compose merges:
// - `ports` by name (an entry with the same name replaces the earlier one, new ones are added),
// - `secrets` and `volumes` of a service: the union,
// - `envFile`: appended (the later file's variables win, as they would in one list),
// - `dependsOn`: merged as a mapping (a list means `ready` for each).
// `args`, `readiness.exec` and `profiles` are replaced, as compose replaces
// `command`, `healthcheck.test` and `profiles`. A readiness probe of another kind
// (socket, http, exec) replaces the earlier one rather than joining it.
//
// Every value keeps where it was written (Origins), so errors and
// `corral config --why` name the file, line and column.
import type { FieldPath } from "./field-path.js";
import type { SourcePosition } from "./errors.js";
import type { YamlSource } from "./yaml-source.js";

/** One file as read: its interpolated values and where each was written. */
export interface Layer {
  /** As the user should see it in messages. */
  file: string;
  path: string;
  dir: string;
  /** Its rank among the files read, so errors across files are ordered. */
  order: number;
  source: YamlSource;
  value: unknown;
  /** The text of a plain scalar after interpolation (`VERSION: ${V}` with V=1.10 is "1.10"), by pathKey. */
  texts: Map<string, string>;
  /** The variables a value used, by pathKey. */
  variables: Map<string, { name: string; from: string | undefined }[]>;
}

export interface Origin {
  layer: Layer;
  path: FieldPath;
}

export type Origins = Map<string, Origin>;

export interface Located {
  file: string;
  order: number;
  position: SourcePosition;
}

export function pathKey(path: FieldPath): string {
  return JSON.stringify(path);
}

/** The origin of `path`, or of the nearest enclosing value that has one (a default, a key left out). */
export function originOf(origins: Origins, path: FieldPath): { origin: Origin; rest: FieldPath } | undefined {
  for (let n = path.length; n >= 0; n--) {
    const origin = origins.get(pathKey(path.slice(0, n)));
    if (origin) return { origin, rest: path.slice(n) };
  }
  return undefined;
}

export function locate(origins: Origins, path: FieldPath, at: "key" | "value"): Located {
  const found = originOf(origins, path);
  if (!found) return { file: "", order: 0, position: { line: 1, column: 1 } };
  const { origin, rest } = found;
  return { file: origin.layer.file, order: origin.layer.order, position: origin.layer.source.locate([...origin.path, ...rest], at) };
}

/** Notes that `value` (and everything inside it) now at `dest` was written at `origin`. */
export function record(origins: Origins, value: unknown, dest: FieldPath, origin: Origin): void {
  origins.set(pathKey(dest), origin);
  if (Array.isArray(value)) value.forEach((v, i) => record(origins, v, [...dest, i], { ...origin, path: [...origin.path, i] }));
  else if (isPlainObject(value))
    for (const [k, v] of Object.entries(value)) record(origins, v, [...dest, k], { ...origin, path: [...origin.path, k] });
}

/** `over` merged onto `base` at `dest` (a path of the merged file), origins noted. */
export function mergeValue(base: unknown, over: unknown, dest: FieldPath, origin: Origin, origins: Origins): unknown {
  const field = serviceField(dest);
  if (base === undefined) {
    record(origins, over, dest, origin);
    return over;
  }
  if (isPlainObject(base) && isPlainObject(over)) {
    const result: Record<string, unknown> = { ...base };
    if (field === "readiness" && ["socket", "http", "exec"].some((kind) => kind in over))
      for (const kind of ["socket", "http", "exec"]) delete result[kind];
    for (const [k, v] of Object.entries(over))
      result[k] = mergeValue(result[k], v, [...dest, k], { ...origin, path: [...origin.path, k] }, origins);
    return result;
  }
  if (field === "ports" && isList(base) && isList(over)) {
    const result = [...base];
    const nameOf = (p: unknown) => (typeof p === "string" ? p : isPlainObject(p) ? p.name : undefined);
    over.forEach((entry, i) => {
      const at = result.findIndex((p) => nameOf(p) === nameOf(entry) && nameOf(entry) !== undefined);
      const index = at === -1 ? result.push(entry) - 1 : at;
      result[index] = entry;
      record(origins, entry, [...dest, index], { ...origin, path: [...origin.path, i] });
    });
    return result;
  }
  if ((field === "secrets" || field === "volumes") && dest.length === 3 && isList(base) && isList(over)) {
    const result = [...base];
    over.forEach((entry, i) => {
      if (result.includes(entry)) return;
      record(origins, entry, [...dest, result.push(entry) - 1], { ...origin, path: [...origin.path, i] });
    });
    return result;
  }
  if (field === "envFile" && dest.length === 3) {
    const result = [...(isList(base) ? base : [base])];
    (isList(over) ? over : [over]).forEach((entry, i) => {
      const at = isList(over) ? { ...origin, path: [...origin.path, i] } : origin;
      record(origins, entry, [...dest, result.push(entry) - 1], at);
    });
    return result;
  }
  if (field === "dependsOn" && dest.length === 3 && (isList(base) || isList(over))) {
    if (isList(base) && isList(over)) {
      const result = [...base];
      over.forEach((entry, i) => {
        if (!result.includes(entry)) record(origins, entry, [...dest, result.push(entry) - 1], { ...origin, path: [...origin.path, i] });
      });
      return result;
    }
    const asMap = (v: unknown) => (isList(v) ? Object.fromEntries(v.map((name) => [String(name), "ready"])) : v);
    return mergeValue(asMap(base), asMap(over), dest, origin, origins);
  }
  record(origins, over, dest, origin);
  return over;
}

/** The field of a service a path is in (`services.<id>.<field>...`), if it is in one. */
function serviceField(dest: FieldPath): string | undefined {
  return dest[0] === "services" && dest.length >= 3 ? String(dest[2]) : undefined;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !isList(value);
}

function isList(value: unknown): value is unknown[] {
  return Array.isArray(value);
}
