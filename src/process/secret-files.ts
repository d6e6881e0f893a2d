// The files of one process's secrets, as systemd's LoadCredential= gives them
// to a unit: `<dir>/<id>`, mode 0400, in a directory of mode 0500, all owned by
// the service's user (the orchestrator's own where the service names none), so
// nobody else can list or read them. Written before each launch, removed when
// the process is gone.
import { chmod, chown, mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";
import { isErrno } from "../util/errno.js";

export interface FileOwner {
  uid: number;
  gid: number;
}

export const SECRET_FILE_DELIVERY_MODE = 0o400;
export const SECRET_DIR_DELIVERY_MODE = 0o500;

/** Replaces `dir` with one file per secret; on failure nothing is left behind. */
export async function writeSecretFiles(dir: string, files: ReadonlyMap<string, Uint8Array>, owner?: FileOwner): Promise<void> {
  await removeSecretFiles(dir);
  // 0700 while it is filled: nobody else can enter it, even before it is handed to its owner.
  await mkdir(dir, { mode: 0o700 });
  try {
    for (const [id, contents] of files) {
      // Created 0400 and written through the descriptor that created it: the file is never writable by anyone.
      const file = await open(join(dir, id), "wx", SECRET_FILE_DELIVERY_MODE);
      try {
        await file.writeFile(contents);
        if (owner) await file.chown(owner.uid, owner.gid);
      } finally {
        await file.close();
      }
    }
    if (owner) await chown(dir, owner.uid, owner.gid);
    await chmod(dir, SECRET_DIR_DELIVERY_MODE);
  } catch (error) {
    await removeSecretFiles(dir);
    throw error;
  }
}

/** Removes a process's secret files; nothing to do when they are gone already. */
export async function removeSecretFiles(dir: string): Promise<void> {
  try {
    // A 0500 directory keeps even its owner from unlinking its files: opened up first.
    await chmod(dir, 0o700);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return;
    throw error;
  }
  await rm(dir, { recursive: true, force: true });
}
