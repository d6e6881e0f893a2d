// Limits through a transient systemd scope, as the seed does it:
//   systemd-run --user --scope --quiet [-p MemoryMax=<bytes>] [-p CPUQuota=<n>%] <program> <args...>
// `--scope` keeps systemd-run in the foreground as the very process the
// supervisor spawned (it execs the program), so PIDs and exit statuses are the
// program's own. The scope's cgroup is systemd's: no ProcessCgroup is offered,
// and metrics fall back to /proc.
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import { programAsUser } from "./run-as.js";
import type { LaunchRequest, Launcher, PreparedLaunch, ProcessCgroup } from "./types.js";

export interface SystemdLauncherOptions {
  /** The systemd-run binary; a bare name is looked up on the child's PATH. Default "systemd-run". */
  systemdRunPath?: string;
}

/** The argv after the systemd-run program name, exactly as the seed's `refine_command` builds it. */
export function systemdRunArgs(req: Pick<LaunchRequest, "program" | "args" | "memoryLimit" | "cpuLimit" | "user">): string[] {
  const args = ["--user", "--scope", "--quiet"];
  if (req.memoryLimit) args.push("-p", `MemoryMax=${req.memoryLimit.bytes}`);
  // CPUQuota is in percent of one core; round up so a small limit never becomes 0 (= unlimited).
  if (req.cpuLimit) args.push("-p", `CPUQuota=${Math.ceil(req.cpuLimit.millicpus / 10)}%`);
  // Inside the scope: systemd-run execs setpriv, which drops to the user and execs the program.
  const { program, args: programArgs } = programAsUser(req);
  args.push(program, ...programArgs);
  return args;
}

export class SystemdLauncher implements Launcher {
  readonly kind = "systemd" as const;
  private readonly systemdRun: string;

  constructor(opts: SystemdLauncherOptions = {}) {
    this.systemdRun = opts.systemdRunPath ?? "systemd-run";
  }

  async prepare(req: LaunchRequest): Promise<PreparedLaunch> {
    return { command: this.systemdRun, args: systemdRunArgs(req), oomKillsBefore: 0 };
  }

  async reopen(): Promise<ProcessCgroup | null> {
    return null;
  }
}

const MANAGER_STATES = new Set(["initializing", "starting", "running", "degraded", "maintenance", "stopping"]);

export interface SystemdProbeOptions {
  /** sd_booted(3)'s marker. Default /run/systemd/system. */
  bootedMarker?: string;
  /** Default "systemctl". */
  systemctlPath?: string;
  /** Default 2000 ms. */
  timeoutMs?: number;
}

/**
 * True when the host booted with systemd and a user manager answers
 * `systemctl --user is-system-running`. The exit status is not the test (it is
 * non-zero for "degraded", which still runs scopes fine); a known state printed
 * within the timeout is. "offline" and "unknown" mean nobody answered.
 */
export async function systemdUserManagerAvailable(opts: SystemdProbeOptions = {}): Promise<boolean> {
  try {
    await access(opts.bootedMarker ?? "/run/systemd/system");
  } catch {
    // sd_booted(3): no marker, no systemd.
    return false;
  }
  const state = await new Promise<string>((resolve) => {
    execFile(
      opts.systemctlPath ?? "systemctl",
      ["--user", "is-system-running"],
      { timeout: opts.timeoutMs ?? 2000, killSignal: "SIGKILL", encoding: "utf8" },
      (_err, stdout) => resolve(typeof stdout === "string" ? (stdout.trim().split("\n")[0] ?? "") : ""),
    );
  });
  return MANAGER_STATES.has(state);
}
