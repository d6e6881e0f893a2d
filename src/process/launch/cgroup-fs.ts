// Small helpers for cgroupfs files. Reads return null instead of throwing because
// groups disappear under us (a concurrent remove, a process that just exited).
import { readFileSync, writeFileSync } from "node:fs";
import { readdir, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../../util/errno.js";

/**
 * A cgroupfs file's text, null when it cannot be read. Read without the thread
 * pool: cgroupfs files live in kernel memory (a read never waits on a disk), and
 * one async read costs four thread-pool hops (open, fstat, read, close), which
 * at 500 groups is most of a metrics call or of a stop.
 */
export function readTextNow(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    // The group went away (a concurrent remove, an exit) or this kernel lacks the file: both read as "no value".
    return null;
  }
}

/** readTextNow for the callers that await. */
export async function readText(path: string): Promise<string | null> {
  return readTextNow(path);
}

export function parseNumber(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : null;
}

/** A value from a "key value" per line file (memory.stat, memory.events, cpu.stat, cgroup.events, memory.oom_control). */
export function parseKey(text: string | null, key: string): number | null {
  if (text === null) return null;
  for (const line of text.split("\n")) {
    const space = line.indexOf(" ");
    if (space > 0 && line.slice(0, space) === key) return parseNumber(line.slice(space + 1));
  }
  return null;
}

export async function readNumber(path: string): Promise<number | null> {
  return parseNumber(await readText(path));
}

export async function readKey(path: string, key: string): Promise<number | null> {
  return parseKey(await readText(path), key);
}

/**
 * cgroupfs takes one value per write(2); writeFileSync issues exactly one write for
 * short strings. Written without the thread pool, for the reason reads are
 * (readTextNow): one async write is an open, a write and a close, each a hop,
 * and ~10 KB of promises and handles, where the kernel's work is microseconds.
 */
export async function writeValue(path: string, value: string): Promise<void> {
  writeFileSync(path, value);
}

/** Like writeValue, but a file this kernel lacks (or a value it refuses) is not an error. */
export async function tryWriteValue(path: string, value: string): Promise<boolean> {
  try {
    writeFileSync(path, value);
    return true;
  } catch {
    // The contract of this function: the caller asked whether the write took, not why it did not.
    return false;
  }
}

/** The group and every group below it, deepest first (so they can be removed in order). */
export async function subtreeDeepestFirst(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries) if (e.isDirectory()) out.push(...(await subtreeDeepestFirst(join(dir, e.name))));
  out.push(dir);
  return out;
}

/** PIDs listed in cgroup.procs of the group and its descendants. */
export async function pidsIn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const d of await subtreeDeepestFirst(dir)) {
    const text = await readText(join(d, "cgroup.procs"));
    if (text === null) continue;
    for (const line of text.split("\n")) {
      const pid = Number(line);
      if (line && Number.isSafeInteger(pid) && pid > 0) pids.push(pid);
    }
  }
  return pids;
}

/** rmdir that treats "already gone" as success. Returns false when the group is still busy or has children. */
export async function rmdirGroup(dir: string): Promise<boolean> {
  try {
    await rmdir(dir);
    return true;
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT") return true;
    if (code === "EBUSY" || code === "ENOTEMPTY" || code === "EEXIST") return false;
    throw err;
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
