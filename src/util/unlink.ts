import { unlink } from "node:fs/promises";
import { isErrno } from "./errno.js";

/** Removes a file (not a directory); one already gone is as good. */
export async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (!isErrno(error, "ENOENT")) throw error;
  }
}
