import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * sockaddr_un holds 108 bytes including the terminating NUL. Node 20 silently
 * truncates longer paths, so the process would listen somewhere else than we
 * report: check the length ourselves.
 */
export const MAX_SOCKET_PATH_BYTES = 107;

/** `<runDir>/<port>-<i>`, or a hashed name in the temp dir when that path is too long to bind. */
export function socketPath(runDir: string, port: string, processIndex: number): string {
  const desired = join(runDir, `${port}-${processIndex}`);
  if (Buffer.byteLength(desired) <= MAX_SOCKET_PATH_BYTES) return desired;
  return join(tmpdir(), createHash("sha1").update(desired).digest("hex"));
}

/** Port name → socket path for one process. */
export function listenAddresses(runDir: string, ports: readonly { name: string }[], processIndex: number): Record<string, string> {
  return Object.fromEntries(ports.map((p) => [p.name, socketPath(runDir, p.name, processIndex)]));
}
