#!/usr/bin/env node
// The `corral` command.
import { Command, Option } from "commander";
import { ConfigError } from "../config/errors.js";
import { DAEMON_DEFAULTS } from "../contract/defaults.js";
import { ValidationError } from "../contract/errors.js";
import { Daemon, DaemonAlreadyRunningError } from "../server/daemon.js";
import { ApiError, DaemonNotAnsweringError, DaemonUnavailableError } from "./client.js";
import * as commands from "./commands.js";
import { registerConfigCommand } from "./config-command.js";
import { registerDashboardCommand } from "./dashboard.js";
import { projectOptions, withFiles } from "./project-files.js";
import { CliError, EXIT, type GlobalOptions, fileEnvironment, resolveStateDir } from "./context.js";
import { registerRunExecCommands } from "./run.js";
import { registerStopStartCommands } from "./stop-start.js";
import { up } from "./up.js";

const program = new Command("corral")
  .description("Run services as supervised local processes: a YAML file, a daemon that keeps them alive, and this command.")
  .option("--state-dir <dir>", "the daemon's state directory (default: .corral beside the file, or $CORRAL_STATE_DIR)")
  .option("-f, --file <path>", "the corral.yaml whose daemon to talk to (its .corral state dir)")
  // Options before the command belong to corral, after it to the command: `logs -f` follows, `up -f` names the file.
  .enablePositionalOptions()
  .showHelpAfterError()
  .addHelpText(
    "after",
    `
Examples:
  corral up                 start (or update) everything in ./corral.yaml and follow the logs
  corral up -d              the same, returning once every process is online and every job has completed
  corral ps                 one line per process: status, pid, restarts, CPU, memory, uptime, address
  corral logs web -f        follow the logs of every process of "web"
  corral scale web=3        run three processes of "web"
  corral stop web           stop web's processes; it stays in the state (corral ps shows it stopped)
  corral start web          start web again (and the stopped services it depends on)
  corral run web -- npm test          a one-off command with web's env, cwd, user, volumes and secrets
  corral exec db -- psql -h %D:sql    a command next to db's running process (its env, cwd, user and cgroups)
  corral restart web        replace web's processes one at a time
  corral down               stop every service (dependents first) and the daemon
  corral down --volumes     the same, then remove the named volumes and their data

Exit codes: 0 ok, 1 the operation failed, 2 bad usage or a bad file (nothing changed), 3 no daemon is running;
  up --abort-on-exit / --exit-code-from: the status of the process that ended (a signal: 128 + its number).`,
  );

// `--state-dir` works before the command and after it (`corral daemon --state-dir x`).
const stateDirOption = () => new Option("--state-dir <dir>", "the daemon's state directory");
let invoked: GlobalOptions = {};
// The options of the command being run, merged with corral's own (the command's win).
program.hook("preAction", (_program, command) => {
  invoked = command.optsWithGlobals<GlobalOptions>();
});
const globals = (): GlobalOptions => invoked;
const json = new Option("--json", "machine-readable output");

const upCommand = program
  .command("up [services...]")
  .description(
    "apply the file (only changed services roll, removed ones are dropped) and wait until every process is online; with services: only those and their dependencies",
  );
for (const option of projectOptions()) upCommand.addOption(option);
upCommand
  .option("-d, --detach", "return once every process is online and every job has completed, instead of following the logs")
  .option("--timeout <seconds>", "how long the whole of up may take, the daemon's apply included", String(DAEMON_DEFAULTS.upTimeoutSeconds))
  .option(
    "--wait-settle <duration>",
    "how long a process must stay online, not restarted, to count as online",
    `${DAEMON_DEFAULTS.upSettleMs}ms`,
  )
  .option("--abort-on-exit", "stop every service when a process ends, and exit with its status (foreground only)")
  .option("--exit-code-from <service>", "like --abort-on-exit, but exit with this service's status (foreground only)")
  .option("--no-watch", "do not restart services when their watch: files change (foreground only; up -d never watches)")
  .action(
    (
      services: string[],
      o: {
        file?: string[];
        detach?: boolean;
        timeout: string;
        waitSettle: string;
        abortOnExit?: boolean;
        exitCodeFrom?: string;
        watch?: boolean;
      },
    ) => up({ ...globals(), ...withFiles(o), services }),
  );
program
  .command("down")
  .description("stop every service, dependents first, then the daemon (with no daemon: every process the state directory records)")
  .option("-v, --volumes", "also remove the named volumes (volumes:) and their data")
  .action((o: { volumes?: boolean }) => commands.down({ ...globals(), ...o }));
program
  .command("ps")
  .description("list processes")
  .addOption(json)
  .action((o: { json?: boolean }) => commands.ps({ ...globals(), ...o }));
program
  .command("logs [service]")
  .description("print the logs of one service (all without a name)")
  .option("-f, --follow", "keep printing new lines")
  .option("-n, --tail <lines>", "only the last lines of each process")
  .addOption(json)
  .action((service: string | undefined, o: { follow?: boolean; tail?: string; json?: boolean }) =>
    commands.logs(service, { ...globals(), ...o }),
  );
program
  .command("events")
  .description("stream status changes (a snapshot first)")
  .addOption(json)
  .action((o: { json?: boolean }) => commands.events({ ...globals(), ...o }));
program
  .command("scale <assignments...>")
  .description("set the number of processes, e.g. web=3 db=1")
  .action((a: string[]) => commands.scale(a, globals()));
program
  .command("restart <service>")
  .description("replace every process of a service, one at a time")
  .action((s: string) => commands.restart(s, globals()));
program
  .command("top")
  .description("live CPU and memory per process")
  .option("--once", "print one table and exit")
  .option("--interval <ms>", "refresh interval", String(DAEMON_DEFAULTS.topIntervalMs))
  .action((o: { once?: boolean; interval: string }) => commands.top({ ...globals(), ...o }));
const secrets = program.command("secrets").description("manage secrets (values are never printed)");
secrets
  .command("set <id> [value]")
  .description("set a secret (the value from stdin when not given)")
  .action((id: string, value: string | undefined) => commands.secretsSet(id, value, globals()));
secrets
  .command("list")
  .addOption(json)
  .description("list secret ids")
  .action((o: { json?: boolean }) => commands.secretsList({ ...globals(), ...o }));
secrets
  .command("rm <id>")
  .description("delete a secret")
  .action((id: string) => commands.secretsRemove(id, globals()));
program
  .command("daemon")
  .description("run the daemon in the foreground (corral up starts one in the background)")
  .option("-f, --file <path>", "the corral.yaml whose environment to run (default: ./corral.yaml, if there is one)")
  .option("--environment <id>", "the environment's name (default: the file's environment:, else the folder's)")
  .option("--tcp <host:port>", "also serve the API on TCP (bearer token from <state dir>/token)")
  .option("--no-auth", "serve TCP without a token (loopback addresses only)")
  .addOption(new Option("--launcher <kind>", "how processes are started").choices(["auto", "direct", "systemd", "cgroup"]))
  .action(async (o: { environment?: string; tcp?: string; auth?: boolean; launcher?: "auto" | "direct" | "systemd" | "cgroup" }) => {
    let tcp: { host: string; port: number } | undefined;
    if (o.tcp) {
      const match = /^(.*):(\d+)$/.exec(o.tcp);
      if (!match) throw new CliError("--tcp must be <host>:<port>, e.g. 127.0.0.1:7700", EXIT.usage);
      tcp = { host: match[1]!.replace(/^\[|\]$/g, ""), port: Number(match[2]) };
    }
    // As `up` would name it, so a daemon started by hand serves the file's environment.
    const environment = o.environment ?? (await fileEnvironment(globals().file));
    const daemon = await Daemon.start({
      stateDir: resolveStateDir(globals()),
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
  });
registerDashboardCommand(program, globals);
registerConfigCommand(program, globals);
registerStopStartCommands(program, globals);
registerRunExecCommands(program, globals);

for (const command of [...program.commands, ...program.commands.flatMap((c) => c.commands)]) {
  if (command.commands.length === 0) command.addOption(stateDirOption());
}

try {
  await program.parseAsync(process.argv);
  // A command that ends with its own status (run, exec) sets exitCode.
  process.exit(typeof process.exitCode === "number" ? process.exitCode : EXIT.ok);
} catch (error) {
  const [message, code] =
    error instanceof CliError
      ? [error.message, error.exitCode]
      : error instanceof ConfigError || error instanceof ValidationError
        ? [error.message, EXIT.usage]
        : error instanceof DaemonNotAnsweringError
          ? [error.message, EXIT.failed]
          : error instanceof DaemonUnavailableError || error instanceof DaemonAlreadyRunningError
            ? [error.message, EXIT.noDaemon]
            : error instanceof ApiError
              ? [error.message, error.status === 400 || error.status === 404 ? EXIT.usage : EXIT.failed]
              : [error instanceof Error ? (error.stack ?? error.message) : String(error), EXIT.failed];
  // An exit status with nothing to add (foreground up ending with its process's status) prints nothing.
  if (message) process.stderr.write(`corral: ${message}\n`);
  process.exit(code);
}
