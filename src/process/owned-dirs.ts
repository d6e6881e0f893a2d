// Directories a service's processes own: socket directories, the sockets
// home, scratch, volumes. Some sit inside a directory the service itself can
// write (a socket directory in its sockets home, a hashed one in the temp
// dir), where it could have put a symlink in their place: they are opened
// with O_NOFOLLOW and changed through the descriptor, so corral (root) never
// chowns or chmods whatever a link points at.
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, mkdirSync, openSync, rmSync } from "node:fs";
import { isErrno } from "../util/errno.js";

export interface Owner {
  uid: number;
  gid: number;
}

const OPEN_DIRECTORY = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/**
 * Makes `path` a real directory (not a link, not a file) with `mode`, owned by
 * `owner` when one is given (else left with whoever made it: us). Whatever
 * else is found at `path` is removed first; with `replaceForeign`, so is a
 * directory that belongs to neither us nor `owner` (someone made it in the
 * temp dir before us, and may still hold it open).
 */
export function ensureOwnedDirectory(path: string, mode: number, owner?: Owner, { replaceForeign = false } = {}): void {
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, OPEN_DIRECTORY);
    } catch (error) {
      if (isErrno(error, "ENOENT")) makeDirectory(path, mode);
      // A file or a symlink where the directory belongs: left by someone, it goes.
      else if (isErrno(error, "ENOTDIR", "ELOOP")) rmSync(path, { recursive: true, force: true });
      else throw error;
      continue;
    }
    let foreign = false;
    try {
      const stats = fstatSync(fd);
      foreign = replaceForeign && stats.uid !== process.getuid?.() && stats.uid !== owner?.uid;
      if (foreign) continue; // removed below, after its descriptor is closed
      if (owner && (stats.uid !== owner.uid || stats.gid !== owner.gid)) fchownSync(fd, owner.uid, owner.gid);
      // After the chown: chown(2) clears set-id bits, so the mode is set last.
      if ((stats.mode & 0o7777) !== mode) fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
      if (foreign) rmSync(path, { recursive: true, force: true });
    }
    return;
  }
  throw new Error(`${path} kept changing while corral made it a directory`);
}

/** Creates `path` owned by `owner`, mode `mode`, when it does not exist; an existing one is left as it is. */
export function createOwnedDirectory(path: string, mode: number, owner?: Owner): void {
  try {
    mkdirSync(path, { mode });
  } catch (error) {
    if (isErrno(error, "EEXIST")) return;
    throw error;
  }
  ensureOwnedDirectory(path, mode, owner);
}

function makeDirectory(path: string, mode: number): void {
  try {
    mkdirSync(path, { mode });
  } catch (error) {
    // Made meanwhile by someone else: the next open looks at what it is.
    if (!isErrno(error, "EEXIST")) throw error;
  }
}
