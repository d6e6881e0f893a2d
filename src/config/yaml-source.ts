import { createRequire } from "node:module";
import type * as Yaml from "yaml";
import type { SourcePosition } from "./errors.js";
import type { FieldPath } from "./field-path.js";

// yaml is about 40 CommonJS files: it is loaded on the first parse rather than
// by everyone who imports the package root to run processes. `require` keeps
// parseYaml synchronous (parseConfig and loadProject are), and it is the very
// module an `import "yaml"` elsewhere gets (the package's node entry is CommonJS).
let yamlModule: typeof Yaml | undefined;
function yaml(): typeof Yaml {
  yamlModule ??= createRequire(import.meta.url)("yaml") as typeof Yaml;
  return yamlModule;
}

/** A parsed YAML document that can say where any field of it was written. */
export interface YamlSource {
  value: unknown;
  locate(path: FieldPath, at: "key" | "value"): SourcePosition;
  /** How a plain (unquoted) scalar was written: `1.10` rather than the number 1.1 it parses to. */
  plainText(path: FieldPath): string | undefined;
  /** Where `needle` starts inside the scalar at `path` (an expression in a string); the scalar's start when it is not there verbatim. */
  locateWithin(path: FieldPath, needle: string): SourcePosition;
}

export type YamlParseResult = { source: YamlSource } | { problem: { position: SourcePosition; rule: string } };

export function parseYaml(text: string): YamlParseResult {
  const { LineCounter, isScalar, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  // prettyErrors off: its messages span several lines; we print our own one-liner.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const toPosition = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const error = doc.errors[0];
  if (error) return { problem: { position: toPosition(error.pos[0]), rule: error.message } };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    return { problem: { position: { line: 1, column: 1 }, rule: e instanceof Error ? e.message : String(e) } };
  }
  return {
    source: {
      value,
      locate: (path, at) => toPosition(offsetOf(doc, path, at)),
      plainText: (path) => {
        const node: unknown = doc.getIn(path, true);
        return isScalar(node) && node.type === "PLAIN" && typeof node.source === "string" ? node.source : undefined;
      },
      locateWithin: (path, needle) => {
        const node: unknown = doc.getIn(path, true);
        const start = offsetOf(doc, path, "value");
        if (!isScalar(node) || !node.range) return toPosition(start);
        const index = text.slice(node.range[0], node.range[1]).indexOf(needle);
        return toPosition(index === -1 ? start : node.range[0] + index);
      },
    },
  };
}

function offsetOf(doc: Yaml.Document, path: FieldPath, at: "key" | "value"): number {
  const { isMap, isScalar, isSeq } = yaml();
  let node: Yaml.Node | null = doc.contents;
  let key: Yaml.Node | null = null;
  for (const segment of path) {
    let next: Yaml.Node | null | undefined;
    let nextKey: Yaml.Node | null = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (pair) {
        next = pair.value as Yaml.Node | null;
        nextKey = pair.key as Yaml.Node;
      }
    } else if (isSeq(node) && typeof segment === "number") {
      next = node.items[segment] as Yaml.Node | undefined;
    }
    // Not written (a required field left out, a value merged in from an alias): point at the nearest thing that is.
    if (next === undefined) return start(key) ?? start(node) ?? 0;
    node = next;
    key = nextKey;
    if (node === null) return start(key) ?? 0;
  }
  // `key:` with nothing after it: the empty value's position is just past the colon, the key reads better.
  if (at === "key" || (isScalar(node) && node.value === null)) return start(key) ?? start(node) ?? 0;
  return start(node) ?? start(key) ?? 0;
}

function start(node: Yaml.Node | null): number | undefined {
  return node?.range?.[0];
}
