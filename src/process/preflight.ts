// Checks that a program can be exec'd before it is launched. A launcher that
// wraps the program (the cgroup launcher's shell, systemd-run) would otherwise
// turn "cannot run this" into an ordinary exit status; checked here, it is a
// spawn failure with a reason, whatever the launcher.
import { constants, accessSync, closeSync, openSync, readSync, statSync } from "node:fs";
import { isAbsolute } from "node:path";

/** Throws an Error saying why `program` cannot be executed; programs found on PATH are left to the spawn. */
export function assertExecutable(program: string): void {
  if (!isAbsolute(program)) return;
  let stats;
  try {
    stats = statSync(program);
  } catch {
    throw new Error(`spawn ${program} ENOENT: no such file`);
  }
  if (!stats.isFile()) throw new Error(`spawn ${program} EACCES: not a regular file`);
  try {
    accessSync(program, constants.X_OK);
  } catch {
    throw new Error(`spawn ${program} EACCES: not executable`);
  }
  const interpreter = shebangInterpreter(program);
  if (interpreter !== null && isAbsolute(interpreter)) {
    try {
      accessSync(interpreter, constants.X_OK);
    } catch {
      throw new Error(`spawn ${program} ENOENT: its interpreter ${interpreter} does not exist or is not executable`);
    }
  }
}

function shebangInterpreter(path: string): string | null {
  const buffer = Buffer.alloc(256);
  let read = 0;
  try {
    const fd = openSync(path, "r");
    try {
      read = readSync(fd, buffer, 0, buffer.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  const head = buffer.subarray(0, read).toString("latin1");
  if (!head.startsWith("#!")) return null;
  const line = head.slice(2).split("\n")[0]!.trim();
  return line.split(/\s+/)[0] || null;
}
