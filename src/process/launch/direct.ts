// No limits: the program runs as given. Limits asked for here are not silently
// dropped: prepare says so, and the supervisor turns it into one warning event.
import { programAsUser } from "./run-as.js";
import type { LaunchRequest, Launcher, PreparedLaunch, ProcessCgroup } from "./types.js";

export function limitsWarning(req: Pick<LaunchRequest, "memoryLimit" | "cpuLimit">, why: string): string | undefined {
  const asked: string[] = [];
  if (req.memoryLimit) asked.push(`memoryLimit ${req.memoryLimit.toString()}`);
  if (req.cpuLimit) asked.push(`cpuLimit ${req.cpuLimit.toString()}`);
  return asked.length ? `${asked.join(" and ")} not enforced: ${why}` : undefined;
}

export class DirectLauncher implements Launcher {
  readonly kind = "direct" as const;

  constructor(private readonly why = "the direct launcher applies no limits") {}

  async prepare(req: LaunchRequest): Promise<PreparedLaunch> {
    const { program, args } = programAsUser(req);
    const launch: PreparedLaunch = { command: program, args, oomKillsBefore: 0 };
    const warning = limitsWarning(req, this.why);
    if (warning) launch.warning = warning;
    return launch;
  }

  async reopen(): Promise<ProcessCgroup | null> {
    return null;
  }
}
