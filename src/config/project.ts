// A project as compose reads one: corral.yaml (found in this folder or a
// parent), corral.override.yaml beside it, or the files given with -f merged in
// order; `extends`; `${VAR}` interpolation from the calling shell and the
// project's .env (--env-file for others); profiles and the services named on
// the command line. The result is the desired state `up` sends, and the file
// as resolved (`corral config`), every value knowing where it was written.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { ValidationError } from "../contract/errors.js";
import { buildState, type BuildProblem } from "./build.js";
import { environmentFromDirectory } from "./environment-name.js";
import { parseEnvFile } from "./env-file.js";
import { OVERRIDE_FILE, PROJECT_FILE, findProjectFile } from "./project-file.js";
import { ConfigError, type SourcePosition } from "./errors.js";
import { formatFieldPath, type FieldPath } from "./field-path.js";
import { escapeInterpolation, type Lookup, type VariableSource } from "./interpolate.js";
import { interpolateLayer, type LocatedProblem } from "./interpolate-tree.js";
import { isPlainObject, locate, mergeValue, originOf, pathKey, type Layer, type Located, type Origins } from "./merge.js";
import { profilesFromEnv, selectServices } from "./profiles.js";
import { corralFileSchema, extendsSchema, type CorralFile } from "./schema.js";
import { knownKeysAt } from "./suggest.js";
import type { DesiredState } from "./types.js";
import { parseYaml } from "./yaml-source.js";
import { problemsFromIssues } from "./zod-issues.js";

export { OVERRIDE_FILE, PROJECT_FILE, findProjectFile };

export interface LoadProjectOptions {
  /** The files given with -f, in order; none: corral.yaml found from cwd upwards, and corral.override.yaml beside it. */
  files?: readonly string[];
  cwd?: string;
  /** The calling shell's environment: variables for ${VAR}, PATH for commands (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** --env-file: where variables come from besides the shell (default: .env beside the first file, when there is one). */
  envFiles?: readonly string[];
  /** --profile (default: CORRAL_PROFILES). */
  profiles?: readonly string[];
  /** Services named on the command line: only these and their dependencies. */
  services?: readonly string[];
}

export interface WhyLine {
  field: string;
  value: unknown;
  /** `file:line:col` where it was written; undefined for a value no file wrote. */
  at: string | undefined;
  variables: { name: string; from: string | undefined }[];
}

export interface LoadedProject {
  state: DesiredState;
  /** The files read, absolute, in merge order. */
  files: string[];
  projectDir: string;
  /** The file as resolved: interpolated (`$` written `$$` again), merged, extends applied, only the services that run. */
  resolved: Record<string, unknown>;
  /** Where each value under `field` (e.g. services.web.env) came from. */
  why(field: string): WhyLine[];
}

/** No corral.yaml here or above: says where it looked and how to name one. */
export class ProjectFileNotFoundError extends ValidationError {
  override name = "ProjectFileNotFoundError";
  constructor(cwd: string) {
    super("-f", "");
    this.message = `no ${PROJECT_FILE} in ${cwd} or any folder above it: run corral in the project's folder, or name the file with -f <path>`;
  }
}

/** The files a command reads: those given, else the project file found upwards and its override. Throws when there is none. */
export function projectFiles(files: readonly string[] | undefined, cwd = process.cwd()): string[] {
  if (files && files.length > 0) return files.map((f) => resolve(cwd, f));
  const found = findProjectFile(cwd);
  if (found === undefined) throw new ProjectFileNotFoundError(cwd);
  const override = join(dirname(found), OVERRIDE_FILE);
  return existsSync(override) ? [found, override] : [found];
}

export function loadProject(opts: LoadProjectOptions = {}): LoadedProject {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const paths = projectFiles(opts.files, cwd);
  const display = (path: string) => {
    const rel = relative(cwd, path);
    return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
  };
  const projectDir = dirname(paths[0]!);
  const lookup = projectVariables(
    env,
    projectDir,
    display,
    opts.envFiles?.map((f) => resolve(cwd, f)),
  );
  return resolveProject(
    paths.map((path) => ({ path, file: display(path) })),
    {
      projectDir,
      env,
      lookup,
      display,
      profiles: opts.profiles ?? profilesFromEnv(env),
      ...(opts.services && { services: opts.services }),
    },
  );
}

export interface ResolveOptions {
  projectDir: string;
  env: NodeJS.ProcessEnv;
  lookup: Lookup;
  display: (path: string) => string;
  profiles: readonly string[];
  services?: readonly string[];
}

/** The core: the given files (text read here unless given) to the desired state. Throws ConfigError for the first problem. */
export function resolveProject(files: { path: string; file: string; text?: string }[], opts: ResolveOptions): LoadedProject {
  const layers = new Map<string, Layer>();
  const readLayer = (path: string, file: string, text?: string): Layer => {
    const cached = layers.get(path);
    if (cached) return cached;
    const layer = parseLayer(file, path, text ?? readText(path, file), layers.size, opts.lookup);
    layers.set(path, layer);
    return layer;
  };
  const origins: Origins = new Map();
  let merged: Record<string, unknown> = {};
  const top = files.map((f) => readLayer(f.path, f.file, f.text));
  origins.set(pathKey([]), { layer: top[0]!, path: [] });
  for (const layer of top) {
    if (!isPlainObject(layer.value))
      throw new ConfigError(layer.file, layer.source.locate([], "value"), "(root)", "must be a mapping with a services: key");
    for (const [key, value] of Object.entries(layer.value)) {
      if (key === "services" && isPlainObject(value)) {
        const services = isPlainObject(merged.services) ? { ...merged.services } : {};
        if (!origins.has(pathKey(["services"]))) origins.set(pathKey(["services"]), { layer, path: ["services"] });
        for (const id of Object.keys(value)) contribute(services, id, layer, id, [], { readLayer, origins, projectDir: opts.projectDir });
        merged.services = services;
      } else merged[key] = mergeValue(merged[key], value, [key], { layer, path: [key] }, origins);
    }
  }
  merged = asWritten(structuredClone(merged), origins);

  const throwFirst = (problems: BuildProblem[]): never => {
    throw firstError(
      problems.map((p) => {
        const at = locate(origins, p.path, p.at);
        return { ...at, field: formatFieldPath(p.path), rule: p.rule, elsewhere: p.elsewhere };
      }),
    );
  };
  const input = withoutComposition(merged);
  const checked = corralFileSchema.safeParse(merged);
  if (!checked.success) return throwFirst(problemsFromIssues(checked.error.issues, merged, (path) => knownKeysAt(corralFileSchema, path)));
  const parsed = checked.data;
  const selected = selectServices(parsed, { profiles: opts.profiles, ...(opts.services && { targets: opts.services }) });
  if ("problems" in selected) return throwFirst(selected.problems);
  const { active } = selected;
  const file: CorralFile = { ...parsed, services: Object.fromEntries(active.map((id) => [id, parsed.services[id]!])) };
  const built = buildState(file, {
    file: files[0]!.file,
    baseDir: resolve(opts.projectDir),
    env: opts.env,
    environment: environmentFromDirectory(opts.projectDir),
  });
  if ("problems" in built) return throwFirst(built.problems);
  const services = isPlainObject(input.services) ? input.services : {};
  const resolved = escapeAll({ ...input, services: Object.fromEntries(active.map((id) => [id, services[id]])) });
  return {
    state: built.state,
    files: files.map((f) => f.path),
    projectDir: opts.projectDir,
    resolved: isPlainObject(resolved) ? resolved : {},
    why: (field) => whyLines(input, field, origins),
  };
}

interface Contributing {
  readLayer: (path: string, file: string) => Layer;
  origins: Origins;
  projectDir: string;
}

/** Merges `layer`'s service `id` (after what it extends) into `services[dest]`. */
function contribute(services: Record<string, unknown>, dest: string, layer: Layer, id: string, stack: string[], ctx: Contributing): void {
  const entry = (layer.value as { services: Record<string, unknown> }).services[id];
  const at: FieldPath = ["services", id];
  let own = entry;
  if (isPlainObject(entry) && entry.extends !== undefined) {
    const { extends: written, ...rest } = entry;
    own = rest;
    const checked = extendsSchema.safeParse(written);
    if (!checked.success) {
      const [problem] = problemsFromIssues(checked.error.issues, written);
      const path = [...at, "extends", ...(problem?.path ?? [])];
      throw new ConfigError(
        layer.file,
        layer.source.locate(path, problem?.at ?? "value"),
        formatFieldPath(path),
        problem?.rule ?? "is invalid",
      );
    }
    const target = typeof checked.data === "string" ? { service: checked.data } : checked.data;
    let base = layer;
    if (target.file !== undefined) {
      const path = resolve(layer.dir, target.file);
      try {
        base = ctx.readLayer(path, isAbsolute(target.file) ? target.file : join(dirname(layer.file), target.file));
      } catch (error) {
        if (!(error instanceof ConfigError) || error.field !== "(file)") throw error;
        const field: FieldPath = [...at, "extends", "file"];
        throw new ConfigError(
          layer.file,
          layer.source.locate(field, "value"),
          formatFieldPath(field),
          `${JSON.stringify(target.file)}: ${error.rule} (${path})`,
        );
      }
    }
    const field: FieldPath = typeof written === "string" ? [...at, "extends"] : [...at, "extends", "service"];
    const baseServices = isPlainObject(base.value) && isPlainObject(base.value.services) ? base.value.services : {};
    if (!Object.hasOwn(baseServices, target.service))
      throw new ConfigError(
        layer.file,
        layer.source.locate(field, "value"),
        formatFieldPath(field),
        `names no service in ${base === layer ? "this file" : base.file} (services: ${Object.keys(baseServices).join(", ")})`,
      );
    const key = `${base.path}#${target.service}`;
    if (stack.includes(key) || (base === layer && target.service === id))
      throw new ConfigError(
        layer.file,
        layer.source.locate(field, "value"),
        formatFieldPath(field),
        `extends cycle: ${[...stack, key].map((k) => k.split("#")[1]).join(" -> ")}`,
      );
    contribute(services, dest, base, target.service, [...stack, `${layer.path}#${id}`], ctx);
  }
  // Whether a service runs is its own say: a base kept out of the run (profiles, disabled: true) is the usual template.
  if (stack.length > 0 && isPlainObject(own)) {
    const { profiles: _profiles, disabled: _disabled, ...inherited } = own;
    own = inherited;
  }
  const rebased = layer.dir === ctx.projectDir ? own : rebase(own, layer.dir);
  services[dest] = mergeValue(services[dest], rebased, ["services", dest], { layer, path: at }, ctx.origins);
}

/** A service taken from a file in another folder keeps pointing at its own files: relative paths made absolute. */
function rebase(entry: unknown, dir: string): unknown {
  if (!isPlainObject(entry)) return entry;
  const out = { ...entry };
  const fix = (p: unknown) => (typeof p === "string" && !isAbsolute(p) ? resolve(dir, p) : p);
  if (typeof out.command === "string" && out.command.includes("/")) out.command = fix(out.command);
  if (out.workingDirectory !== undefined) out.workingDirectory = fix(out.workingDirectory);
  if (out.envFile !== undefined) out.envFile = Array.isArray(out.envFile) ? out.envFile.map(fix) : fix(out.envFile);
  return out;
}

function readText(path: string, file: string): string {
  try {
    return readFileSync(path, "utf8");
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
}

function parseLayer(file: string, path: string, text: string, order: number, lookup: Lookup): Layer {
  const parsed = parseYaml(text);
  if ("problem" in parsed) throw new ConfigError(file, parsed.problem.position, "(yaml)", parsed.problem.rule);
  const layer: Layer = {
    file,
    path,
    dir: dirname(path),
    order,
    source: parsed.source,
    // An empty file is an empty mapping; `key:` with nothing after it is the same as leaving the key out.
    value: withoutNullFields(parsed.source.value ?? {}),
    texts: new Map(),
    variables: new Map(),
  };
  const problems: LocatedProblem[] = [];
  interpolateLayer(layer, lookup, problems);
  if (problems.length > 0) throw firstError(problems);
  return layer;
}

/** Variables for ${VAR}: the shell's win over the env files' (default: the project's .env), as compose's do over .env. */
export function projectVariables(
  env: NodeJS.ProcessEnv,
  projectDir: string,
  display: (p: string) => string,
  envFiles?: readonly string[],
): Lookup {
  const defaultEnvFile = join(projectDir, ".env");
  const files = envFiles ?? (isFile(defaultEnvFile) ? [defaultEnvFile] : []);
  const fromFiles = new Map<string, VariableSource>();
  for (const path of files) {
    const parsed = parseEnvFile(readText(path, display(path)));
    if ("problem" in parsed) {
      const { line, column, rule } = parsed.problem;
      throw new ConfigError(display(path), { line, column }, "(env file)", rule);
    }
    for (const [name, value] of Object.entries(parsed.env)) fromFiles.set(name, { value, from: display(path) });
  }
  return (name) => {
    const value = env[name];
    return value !== undefined ? { value, from: "environment" } : fromFiles.get(name);
  };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

interface Reported extends Located {
  field: string;
  rule: string;
  elsewhere?: { file: string; position: SourcePosition } | undefined;
}

/** The problem written first (by file, then position), so fixing errors top to bottom works. */
function firstError(found: Reported[]): ConfigError {
  const before = (a: Reported, b: Reported) =>
    a.order !== b.order
      ? a.order < b.order
      : a.position.line !== b.position.line
        ? a.position.line < b.position.line
        : a.position.column < b.position.column;
  const first = found.reduce((a, b) => (before(b, a) ? b : a));
  return first.elsewhere
    ? new ConfigError(first.elsewhere.file, first.elsewhere.position, first.field, first.rule)
    : new ConfigError(first.file, first.position, first.field, first.rule);
}

/**
 * Numbers and booleans in env, labels and args as they were written:
 * `VERSION: 1.10` means "1.10", not "1.1", and `MODE: 0755` not "755". (Sizes
 * stay numbers, since `memory: 1e9` is meant as a number.)
 */
function asWritten(value: Record<string, unknown>, origins: Origins): Record<string, unknown> {
  if (!isPlainObject(value.services)) return value;
  const textOf = (path: FieldPath): string | undefined => {
    const found = originOf(origins, path);
    if (!found || found.rest.length > 0) return undefined;
    const { layer, path: at } = found.origin;
    return layer.texts.get(pathKey(at)) ?? layer.source.plainText(at);
  };
  for (const [id, service] of Object.entries(value.services)) {
    if (!isPlainObject(service)) continue;
    const fix = (v: unknown, path: FieldPath): unknown => (typeof v === "number" || typeof v === "boolean" ? (textOf(path) ?? v) : v);
    for (const field of ["env", "labels"] as const) {
      const map = service[field];
      if (isPlainObject(map)) for (const [key, v] of Object.entries(map)) map[key] = fix(v, ["services", id, field, key]);
    }
    if (Array.isArray(service.args)) service.args = service.args.map((v: unknown, i) => fix(v, ["services", id, "args", i]));
  }
  return value;
}

/** The file without what only chose or built its services (profiles, disabled; extends is already applied). */
function withoutComposition(value: Record<string, unknown>): Record<string, unknown> {
  if (!isPlainObject(value.services)) return value;
  const services = Object.fromEntries(
    Object.entries(value.services).map(([id, s]) => {
      if (!isPlainObject(s)) return [id, s];
      const { profiles: _p, disabled: _d, ...rest } = s;
      return [id, rest];
    }),
  );
  return { ...value, services };
}

function escapeAll(value: unknown): unknown {
  if (typeof value === "string") return escapeInterpolation(value);
  if (Array.isArray(value)) return value.map(escapeAll);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeAll(v)]));
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

/** `services.web.env.PORT`, `services.web.args[1]`, `services.web.labels["a.b/c"]` as a path. */
export function parseFieldPath(field: string): FieldPath {
  const path: (string | number)[] = [];
  for (const [, key, index, quoted] of field.matchAll(/\.?([^.[\]]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)) {
    if (index !== undefined) path.push(Number(index));
    else if (quoted !== undefined) path.push(JSON.parse(quoted) as string);
    else path.push(key!);
  }
  return path;
}

function whyLines(input: Record<string, unknown>, field: string, origins: Origins): WhyLine[] {
  const path = parseFieldPath(field);
  let node: unknown = input;
  for (const segment of path) {
    node = Array.isArray(node) || isPlainObject(node) ? (node as Record<string | number, unknown>)[segment] : undefined;
  }
  if (node === undefined) throw new ValidationError("--why", `${field} is not in the resolved file`);
  const lines: WhyLine[] = [];
  const visit = (value: unknown, at: FieldPath) => {
    if (Array.isArray(value) && value.length > 0) return value.forEach((v, i) => visit(v, [...at, i]));
    if (isPlainObject(value) && Object.keys(value).length > 0) return Object.entries(value).forEach(([k, v]) => visit(v, [...at, k]));
    const found = originOf(origins, at);
    const exact = found && found.rest.length === 0 ? found.origin : undefined;
    const where = found ? locate(origins, at, "value") : undefined;
    lines.push({
      field: formatFieldPath(at),
      value,
      at: where ? `${where.file}:${where.position.line}:${where.position.column}` : undefined,
      variables: exact ? (exact.layer.variables.get(pathKey(exact.path)) ?? []) : [],
    });
  };
  visit(node, path);
  return lines;
}
