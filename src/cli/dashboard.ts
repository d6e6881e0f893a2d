// `corral dashboard`: makes the daemon serve TCP on 127.0.0.1 (if it does not
// already) and prints a one-time login link; opens it when a desktop is there.
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { Option, type Command } from "commander";
import { survive } from "../util/diagnostics.js";
import type { GlobalOptions } from "./context.js";
import { CliError, EXIT } from "./exit.js";

interface DashboardOptions {
  port?: string;
  open?: boolean;
  readOnly?: boolean;
}

export type { DashboardLink } from "../server/wire.js";

export function registerDashboardCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command("dashboard")
    .description("serve the web dashboard on 127.0.0.1 and print a one-time login link")
    .addOption(
      new Option("--port <port>", "the TCP port when the daemon has no TCP listener yet (default: the last one, else any free one)"),
    )
    .option("--no-open", "only print the link, never start a browser")
    .option("--read-only", "a link to a read-only session (what the read token reaches: no restart, scale, logs or secrets)")
    .action((o: DashboardOptions) => dashboard({ ...o, ...globals() }));
}

export async function dashboard(options: GlobalOptions & DashboardOptions): Promise<void> {
  let port: number | undefined;
  if (options.port !== undefined) {
    port = Number(options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new CliError("--port must be an integer between 0 and 65535", EXIT.usage);
  }
  // Loaded here, not with the command line: `corral --help` needs neither.
  const [{ runningDaemon }, { dashboardLinkBody }] = await Promise.all([import("./context.js"), import("../server/wire.js")]);
  const client = await runningDaemon(options);
  // Over the Unix socket: only someone who can read the state dir gets a link.
  const body = { ...(port === undefined ? {} : { port }), ...(options.readOnly === true ? { readOnly: true } : {}) };
  const link = await client.post("/v1/dashboard/open", body, dashboardLinkBody);
  process.stdout.write(
    `corral dashboard on http://${link.address}\n${link.url}\n(the link signs you in once, until ${link.expiresAt}; after that use the token in the state dir)\n`,
  );
  const opener = options.open === false ? null : desktopOpener();
  if (opener) {
    const child = spawn(opener, [link.url], { detached: true, stdio: "ignore" });
    // The link is printed already; a browser that would not start is only a convenience lost.
    child.on("error", survive("cli.dashboard", "open a browser", { opener }));
    child.unref();
  }
}

/** xdg-open when there is a display to open a browser on; never required. */
function desktopOpener(): string | null {
  if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return null;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, "xdg-open"), constants.X_OK);
      return join(dir, "xdg-open");
    } catch {
      // Not in this PATH entry (or not executable there): try the next one.
    }
  }
  return null;
}
