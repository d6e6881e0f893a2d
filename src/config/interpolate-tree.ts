// Interpolation over a whole parsed file: every string value, keys left as
// written (compose does the same). A plain scalar that becomes a number or a
// boolean is one (`scale: ${WEB_SCALE:-2}` is the number 2), as if the value
// had been written into the file.
import { formatFieldPath, type FieldPath } from "./field-path.js";
import { interpolate, type Lookup } from "./interpolate.js";
import { pathKey, type Layer, type Located } from "./merge.js";

export interface LocatedProblem extends Located {
  field: string;
  rule: string;
}

export function interpolateLayer(layer: Layer, lookup: Lookup, problems: LocatedProblem[]): void {
  layer.value = walk(layer.value, [], layer, lookup, problems);
}

function walk(value: unknown, path: FieldPath, layer: Layer, lookup: Lookup, problems: LocatedProblem[]): unknown {
  if (typeof value === "string") {
    if (!value.includes("$")) return value;
    const result = interpolate(value, lookup);
    if ("problem" in result) {
      const position = layer.source.locateWithin(path, result.problem.expression);
      problems.push({ file: layer.file, order: layer.order, position, field: formatFieldPath(path), rule: result.problem.rule });
      return value;
    }
    if (result.used.length > 0) layer.variables.set(pathKey(path), result.used);
    if (layer.source.plainText(path) === undefined || result.value === value) return result.value;
    layer.texts.set(pathKey(path), result.value);
    if (/^-?(0|[1-9]\d*)(\.\d+)?$/.test(result.value)) return Number(result.value);
    if (result.value === "true" || result.value === "false") return result.value === "true";
    return result.value;
  }
  if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i], layer, lookup, problems));
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k], layer, lookup, problems)]));
  return value;
}
