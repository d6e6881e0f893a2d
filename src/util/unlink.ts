import { unlink } from "node:fs/promises";
import { isErrno } from "./errno.js";

/** Removes a file (not a directory); one already gone is as good. True when this call removed it. */
export async function unlinkIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (isErrno(error, "ENOENT")) return false;
    throw error;
  }
}
