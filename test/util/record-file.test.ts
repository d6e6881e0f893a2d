// Records rewritten in place (PID files, launch intents): each write replaces
// the whole record, a blank one reads as none, and nothing of a longer earlier
// record survives a shorter one. Real files in a temp dir.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { z } from "zod";
import { parseJsonRecord } from "../../src/util/json-record.js";
import { writeRecordInPlace } from "../../src/util/record-file.js";

const schema = z.object({ pid: z.number(), note: z.string() });

describe("records written in place", () => {
  const dir = mkdtempSync(join(tmpdir(), "corral-record-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const read = (path: string) => parseJsonRecord(readFileSync(path, "utf8"), schema);

  it("makes the file when missing, with the mode given, and reads back what was written", () => {
    const path = join(dir, "made.pid");
    writeRecordInPlace(path, JSON.stringify({ pid: 7, note: "first" }), 0o600);
    assert.deepEqual(read(path), { pid: 7, note: "first" });
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  it("a shorter record leaves nothing of a longer one, and the file keeps its inode", () => {
    const path = join(dir, "shrink.pid");
    writeRecordInPlace(path, JSON.stringify({ pid: 1, note: "x".repeat(2000) }));
    const inode = statSync(path).ino;
    writeRecordInPlace(path, JSON.stringify({ pid: 2, note: "short" }));
    assert.deepEqual(read(path), { pid: 2, note: "short" });
    assert.equal(statSync(path).ino, inode, "written over, not replaced");
  });

  it("a blank record reads as none", () => {
    const path = join(dir, "blank.pid");
    writeRecordInPlace(path, JSON.stringify({ pid: 3, note: "running" }));
    writeRecordInPlace(path, "");
    assert.equal(readFileSync(path, "utf8").trim(), "");
    assert.equal(read(path), null);
  });
});
