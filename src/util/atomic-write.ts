import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { reportSurvivable } from "./diagnostics.js";
import { isErrno } from "./errno.js";

export interface AtomicWriteOptions {
  /** File mode of the written file (applied to the temp file before it is renamed into place). */
  mode?: number;
  /** fsync the file and its directory, so the write survives a power cut. Default true. */
  durable?: boolean;
}

/** Temp files start with this prefix, so directory listings can skip them. */
export const TEMP_PREFIX = ".tmp-";

export function tempPathFor(path: string): string {
  return join(dirname(path), `${TEMP_PREFIX}${basename(path)}-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/**
 * Replaces `path` with `data` so that a reader sees either the old or the new
 * contents, never a mix: write a temp file beside it, fsync, rename over.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const { mode = 0o644, durable = true } = options;
  const temp = tempPathFor(path);
  const file = await open(temp, "wx", mode);
  try {
    await file.chmod(mode); // the umask may have narrowed the mode given to open
    await file.writeFile(data);
    if (durable) await file.sync();
  } catch (error) {
    await file.close();
    await unlink(temp).catch(leftTemp(temp));
    throw error;
  }
  await file.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(leftTemp(temp));
    throw error;
  }
  if (durable) await syncDirectory(dirname(path));
}

/** The write failed and so did removing its temp file: the first error is thrown, this one reported (the file is skipped by listings). */
function leftTemp(temp: string): (error: unknown) => void {
  return (error) => {
    if (!isErrno(error, "ENOENT")) reportSurvivable("util.atomic-write", "remove temp file", error, { path: temp });
  };
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
