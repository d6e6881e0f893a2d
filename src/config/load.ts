import { basename, dirname, join, resolve } from "node:path";
import { profilesFromEnv } from "./profiles.js";
import { projectVariables, resolveProject } from "./project.js";
import type { DesiredState } from "./types.js";

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

/**
 * Reads and checks one corral.yaml (no override file: the file is named), its
 * ${VAR}s from `env` and the .env beside it. Writes nothing; throws ConfigError
 * for anything wrong with it. `loadProject` (project.ts) is what commands use.
 */
export async function loadConfigFile(path: string, opts: LoadConfigOptions = {}): Promise<DesiredState> {
  const file = opts.displayName ?? path;
  const absolute = resolve(path);
  const env = opts.env ?? process.env;
  const projectDir = dirname(absolute);
  const display = (p: string) => (p === absolute ? file : p);
  return Promise.resolve(
    resolveProject([{ path: absolute, file }], {
      projectDir,
      env,
      lookup: projectVariables(env, projectDir, display),
      display,
      profiles: profilesFromEnv(env),
    }).state,
  );
}

/**
 * Checks a corral.yaml's text and returns the desired state it describes
 * (${VAR}s from `env` only). Throws a ConfigError for the first problem in
 * the file (by position), as `<file>:<line>:<col>: <field>: <rule>`.
 */
export function parseConfig(text: string, opts: ParseConfigOptions): DesiredState {
  const env = opts.env ?? process.env;
  const projectDir = resolve(opts.baseDir);
  return resolveProject([{ path: join(projectDir, basename(opts.file)), file: opts.file, text }], {
    projectDir,
    env,
    lookup: (name) => (env[name] !== undefined ? { value: env[name], from: "environment" } : undefined),
    display: (p) => p,
    profiles: profilesFromEnv(env),
  }).state;
}
