// Where a project's corral.yaml is, found without reading it: every command
// needs this to find its daemon (`ps`, `logs`), only a few need the file's
// contents, and parsing it loads the whole config schema.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const PROJECT_FILE = "corral.yaml";
export const OVERRIDE_FILE = "corral.override.yaml";

/** corral.yaml in `cwd` or the nearest folder above it, as compose finds compose.yaml. */
export function findProjectFile(cwd: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, PROJECT_FILE);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}
