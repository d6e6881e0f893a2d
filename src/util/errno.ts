// The `code` of a failed system call ("ENOENT", "EBUSY", ...), read without a
// cast: errors from node:fs, node:net and process.kill all carry one.

export function errnoCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

/** True when `error` is a system-call failure with one of `codes`. */
export function isErrno(error: unknown, ...codes: string[]): boolean {
  const code = errnoCode(error);
  return code !== undefined && codes.includes(code);
}
