import { realpath, stat } from "node:fs/promises";
import { ValidationError } from "../contract/errors.js";

/** The real path of `path`; a ValidationError naming `field` unless it is an existing directory. */
export async function existingDirectory(field: string, path: string): Promise<string> {
  try {
    const real = await realpath(path);
    if ((await stat(real)).isDirectory()) return real;
  } catch {
    // Missing or unreadable: either way not a directory we can use, said below.
  }
  throw new ValidationError(field, "must be an existing directory", path);
}
