// A small record (a PID file, a launch intent) kept in one file per slot and
// rewritten in place, padded with blanks to a fixed size, instead of a temp
// file renamed over it: a file made per write costs an inode and a block
// allocated and freed each time (~1 ms each on the disks measured, more than
// the spawn it records), an overwrite of the same block ~10 µs. Blanks are
// what an empty record reads as: JSON.parse rejects them, so a reader finds
// nothing, as it does for a record a crash cut short.
import { closeSync, constants, fstatSync, ftruncateSync, openSync, writeSync } from "node:fs";

/** Records are padded to this size; a longer one takes what it needs. */
const RECORD_BYTES = 512;

/** Writes `text` (blanks when empty) over the record at `path`, making the file when missing. */
export function writeRecordInPlace(path: string, text: string, mode = 0o644): void {
  const body = Buffer.from(text);
  const size = Math.max(RECORD_BYTES, body.length + 1);
  const data = Buffer.alloc(size, " ");
  body.copy(data);
  data[size - 1] = 0x0a;
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, mode);
  try {
    writeSync(fd, data, 0, size, 0);
    // Only after a record longer than any written since: nothing of it may be left behind.
    if (fstatSync(fd).size > size) ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}
