import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { buildState } from "./build.js";
import { environmentFromDirectory } from "./environment-name.js";
import { ConfigError, type SourcePosition } from "./errors.js";
import { formatFieldPath, type FieldPath } from "./field-path.js";
import { corralFileSchema } from "./schema.js";
import type { DesiredState } from "./types.js";
import { parseYaml, type YamlSource } from "./yaml-source.js";
import { problemsFromIssues } from "./zod-issues.js";

export interface ParseConfigOptions {
  /** The file's name as the user should see it in errors, e.g. "corral.yaml". */
  file: string;
  /** The file's folder: commands and envFiles are relative to it, and it names the default environment. */
  baseDir: string;
  /** Where PATH comes from for commands given by name (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface LoadConfigOptions {
  /** Name shown in errors (default: the path as given). */
  displayName?: string;
  env?: NodeJS.ProcessEnv;
}

/** Reads and checks a corral.yaml. Writes nothing; throws ConfigError for anything wrong with it. */
export async function loadConfigFile(path: string, opts: LoadConfigOptions = {}): Promise<DesiredState> {
  const file = opts.displayName ?? path;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : code === "EACCES"
            ? "not readable"
            : `cannot be read (${code ?? String(error)})`;
    throw new ConfigError(file, { line: 1, column: 1 }, "(file)", why);
  }
  return parseConfig(text, { file, baseDir: dirname(resolve(path)), ...(opts.env && { env: opts.env }) });
}

/**
 * Checks a corral.yaml's text and returns the desired state it describes.
 * Throws a ConfigError for the first problem in the file (by position), as
 * `<file>:<line>:<col>: <field>: <rule>`.
 */
export function parseConfig(text: string, opts: ParseConfigOptions): DesiredState {
  const parsed = parseYaml(text);
  if ("problem" in parsed) throw new ConfigError(opts.file, parsed.problem.position, "(yaml)", parsed.problem.rule);
  const { source } = parsed;
  // An empty file is an empty mapping; `key:` with nothing after it is the same as leaving the key out.
  const input = asWritten(withoutNullFields(source.value ?? {}), source);

  const checked = corralFileSchema.safeParse(input);
  if (!checked.success) {
    const problems = problemsFromIssues(checked.error.issues, input);
    throw firstError(
      problems.map((p) => ({
        position: source.locate(p.path, p.at),
        error: (position: SourcePosition) => new ConfigError(opts.file, position, formatFieldPath(p.path), p.rule),
      })),
    );
  }
  const built = buildState(checked.data, {
    file: opts.file,
    baseDir: resolve(opts.baseDir),
    env: opts.env ?? process.env,
    environment: environmentFromDirectory(opts.baseDir),
  });
  if ("problems" in built) {
    throw firstError(
      built.problems.map((p) => ({
        position: source.locate(p.path, p.at),
        error: (position: SourcePosition) =>
          p.elsewhere
            ? new ConfigError(p.elsewhere.file, p.elsewhere.position, formatFieldPath(p.path), p.rule)
            : new ConfigError(opts.file, position, formatFieldPath(p.path), p.rule),
      })),
    );
  }
  return built.state;
}

/** The problem written first in the file, so fixing errors top to bottom works. */
function firstError(found: { position: SourcePosition; error: (position: SourcePosition) => ConfigError }[]): ConfigError {
  const first = found.reduce((a, b) =>
    b.position.line < a.position.line || (b.position.line === a.position.line && b.position.column < a.position.column) ? b : a,
  );
  return first.error(first.position);
}

/**
 * Numbers and booleans in env, labels and args as they were written:
 * `VERSION: 1.10` means "1.10", not "1.1", and `MODE: 0755` not "755". (Sizes
 * stay numbers, since `memory: 1e9` is meant as a number.)
 */
function asWritten(value: unknown, source: YamlSource): unknown {
  if (!isPlainObject(value) || !isPlainObject(value.services)) return value;
  for (const [id, service] of Object.entries(value.services)) {
    if (!isPlainObject(service)) continue;
    const fix = (v: unknown, path: FieldPath): unknown =>
      typeof v === "number" || typeof v === "boolean" ? (source.plainText(path) ?? v) : v;
    for (const field of ["env", "labels"] as const) {
      const map = service[field];
      if (isPlainObject(map)) for (const [key, v] of Object.entries(map)) map[key] = fix(v, ["services", id, field, key]);
    }
    if (Array.isArray(service.args)) service.args = service.args.map((v: unknown, i) => fix(v, ["services", id, "args", i]));
  }
  return value;
}

function withoutNullFields(value: unknown): unknown {
  if (!isPlainObject(value)) return value;
  const top = dropNulls(value);
  if (isPlainObject(top.services)) {
    top.services = Object.fromEntries(Object.entries(top.services).map(([id, s]) => [id, isPlainObject(s) ? dropNulls(s) : s]));
  }
  return top;
}

function dropNulls(map: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(map).filter(([, v]) => v !== null));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
