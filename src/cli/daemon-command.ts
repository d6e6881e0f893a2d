// `corral daemon`: the daemon in the foreground (what `corral up` starts in the background).
import { Daemon } from "../server/daemon.js";
import { type GlobalOptions, fileEnvironment, resolveStateDir } from "./context.js";

export interface DaemonCommandOptions extends GlobalOptions {
  environment?: string;
  /** <host>:<port>, checked by main.ts. */
  tcp?: string;
  auth?: boolean;
  launcher?: "auto" | "direct" | "systemd" | "cgroup";
}

/** host and port of `<host>:<port>` (brackets of an IPv6 address dropped). */
export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(value);
  return { host: (match?.[1] ?? value).replace(/^\[|\]$/g, ""), port: Number(match?.[2] ?? 0) };
}

export async function runDaemon(o: DaemonCommandOptions): Promise<void> {
  const tcp = o.tcp === undefined ? undefined : parseHostPort(o.tcp);
  // As `up` would name it, so a daemon started by hand serves the file's environment.
  const environment = o.environment ?? (await fileEnvironment(o.file));
  const daemon = await Daemon.start({
    stateDir: resolveStateDir(o),
    ...(environment ? { environment } : {}),
    ...(tcp ? { tcp } : {}),
    ...(o.auth === false ? { noAuth: true } : {}),
    ...(o.launcher ? { launcher: o.launcher } : {}),
  });
  process.stdout.write(
    `corral daemon ${process.pid}: environment ${daemon.environment}, API on ${daemon.paths.socket}${daemon.tcpAddress ? ` and http://${daemon.tcpAddress}` : ""}\n`,
  );
  // A signal leaves the services running: the next daemon adopts them. `corral down` stops them.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void daemon.shutdown());
  await daemon.closed;
}
