// The one check that a program can be exec'd, for everyone who needs to know
// before a spawn does: the namespace (an image must exist before anything is
// written), the supervisor (a launcher that wraps the program, such as the
// cgroup launcher's shell or systemd-run, would otherwise turn "cannot run this"
// into an ordinary exit status) and the daemon (a desired state is checked before
// it is applied).
import { constants, accessSync, closeSync, openSync, readSync, statSync } from "node:fs";
import { isAbsolute } from "node:path";
import { ValidationError } from "../contract/errors.js";
import { errnoCode } from "./errno.js";

/** Why a file cannot be exec'd, in the errno terms a failed spawn would use. */
export interface ExecutableProblem {
  code: "ENOENT" | "EACCES";
  reason: string;
}

/**
 * Why `path` cannot be executed, or undefined when it can: it must be a regular
 * file we may execute and, with `interpreter`, its `#!` interpreter (when given
 * by absolute path) must be executable too.
 */
export function executableProblem(path: string, { interpreter = false }: { interpreter?: boolean } = {}): ExecutableProblem | undefined {
  let stats;
  try {
    stats = statSync(path);
  } catch (error) {
    const code = errnoCode(error);
    return code === "ENOENT" || code === "ENOTDIR"
      ? { code: "ENOENT", reason: "no such file" }
      : { code: "EACCES", reason: `cannot be read (${code ?? String(error)})` };
  }
  if (!stats.isFile()) return { code: "EACCES", reason: "not a regular file" };
  if (!canExecute(path)) return { code: "EACCES", reason: "not executable" };
  if (!interpreter) return undefined;
  const program = shebangInterpreter(path);
  if (program !== null && isAbsolute(program) && !canExecute(program)) {
    return { code: "ENOENT", reason: `its interpreter ${program} does not exist or is not executable` };
  }
  return undefined;
}

/**
 * Throws an Error worded as a failed spawn (`spawn <program> ENOENT: ...`) when
 * `program` cannot be executed, interpreter included. Programs named without a
 * path are looked up on PATH by the spawn itself and are not checked here.
 */
export function assertExecutable(program: string): void {
  if (!isAbsolute(program)) return;
  const problem = executableProblem(program, { interpreter: true });
  if (problem) throw new Error(`spawn ${program} ${problem.code}: ${problem.reason}`);
}

/**
 * Throws a ValidationError naming `field` unless `path` is an absolute path to an
 * executable file (and, with `interpreter`, its interpreter is executable too).
 */
export function validateExecutable(field: string, path: string, options: { interpreter?: boolean; value?: unknown } = {}): string {
  const value = options.value ?? path;
  if (!isAbsolute(path)) throw new ValidationError(field, "must be an absolute path", value);
  const problem = executableProblem(path, options);
  if (problem) throw new ValidationError(field, `must be an executable file; ${path}: ${problem.reason}`, value);
  return path;
}

function canExecute(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    // access(2) fails for exactly one reason we care about: we may not execute it.
    return false;
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
    // Executable but unreadable (mode 0111): the kernel still runs it; there is no interpreter line to check.
    return null;
  }
  const head = buffer.subarray(0, read).toString("latin1");
  if (!head.startsWith("#!")) return null;
  const line = head.slice(2).split("\n")[0]!.trim();
  return line.split(/\s+/)[0] || null;
}
