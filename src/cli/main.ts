#!/usr/bin/env node
// The `corral` command. Only commander and the small option checkers load at
// start: every command imports what it uses when it runs, so `--help` and `ps`
// never load the daemon, fastify or the Kubernetes client.
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { CliError, EXIT } from "./exit.js";
import type { GlobalOptions } from "./context.js";
import { registerDashboardCommand } from "./dashboard.js";
import { closedOutput } from "./output.js";
import { DAEMON_DEFAULTS } from "../contract/defaults.js";
import {
  collect,
  daemonUrl,
  duration,
  hostPort,
  integerAtLeast,
  ownOptions,
  positiveSeconds,
  projectOptions,
  timeOption,
} from "./options.js";
import { registerMoreCommands } from "./more-commands.js";

// A reader that went away (`corral logs web | head -1`) ends the command quietly, as it ends any Unix tool.
closedOutput(process.stdout);
closedOutput(process.stderr);

const version = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown }).version;

const program = new Command("corral")
  .description("Run services as supervised local processes: a YAML file, a daemon that keeps them alive, and this command.")
  .version(typeof version === "string" ? version : "unknown", "-V, --version", "print corral's version")
  // Usage errors exit 2 (as documented), not commander's 1: every subcommand inherits this.
  .exitOverride()
  // Options before the command belong to corral, after it to the command: `logs -f` follows, `corral -f x logs` names the file.
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
  corral -f x.yaml logs -f  the same for the project of x.yaml (-f before the command names the file)
  corral scale web=3        run three processes of "web"
  corral stop web           stop web's processes; it stays in the state (corral ps shows it stopped)
  corral start web          start web again (and the stopped services it depends on)
  corral run web -- npm test          a one-off command with web's env, cwd, user, volumes and secrets
  corral exec db -- psql -h %D:sql    a command next to db's running process (its env, cwd, user and cgroups)
  corral restart web        replace web's processes one at a time
  corral down               stop every service (dependents first) and the daemon
  corral down --volumes     the same, then remove the named volumes and their data

Global options (before or after the command): -f/--file (repeatable), --state-dir, --host, --token-file;
  $CORRAL_STATE_DIR, $CORRAL_HOST and $CORRAL_TOKEN stand in for them.

Exit codes: 0 ok, 1 the operation failed, 2 bad usage or a bad file (nothing changed), 3 no daemon is running;
  up --abort-on-exit / --exit-code-from: the status of the process that ended (a signal: 128 + its number).`,
  );

/** The options every command takes, before the command or after it. */
function globalOptions(command: Command): void {
  const has = (flag: string) => command.options.some((o) => o.short === flag || o.long === flag);
  // `logs -f` is --follow (as in compose): there the file is `--file`, or `-f` before the command.
  if (!has("--file"))
    command.addOption(new Option(has("-f") ? "--file <path>" : "-f, --file <path>", "the corral.yaml (repeatable)").argParser(collect));
  if (!has("--state-dir"))
    command.addOption(
      new Option("--state-dir <dir>", "the daemon's state directory (default: .corral beside the file, or $CORRAL_STATE_DIR)"),
    );
  if (!has("--host"))
    command.addOption(
      new Option("--host <url>", "talk to a daemon's TCP listener, e.g. http://127.0.0.1:7700 (or $CORRAL_HOST)").argParser(daemonUrl),
    );
  if (!has("--token-file")) command.addOption(new Option("--token-file <path>", "the bearer token for --host (or $CORRAL_TOKEN)"));
}
globalOptions(program);

let invoked: GlobalOptions = {};
// corral's own options merged with the command's (-f from both, in order; the command's win otherwise).
program.hook("preAction", (_program, command) => {
  const chain: Command[] = [];
  for (let c: Command | null = command; c; c = c.parent) chain.unshift(c);
  const files: string[] = [];
  const merged: GlobalOptions = {};
  for (const c of chain) {
    const o = c.opts<{ file?: string[]; stateDir?: string; host?: string; tokenFile?: string }>();
    files.push(...(o.file ?? []));
    if (o.stateDir !== undefined) merged.stateDir = o.stateDir;
    if (o.host !== undefined) merged.host = o.host;
    if (o.tokenFile !== undefined) merged.tokenFile = o.tokenFile;
  }
  if (files.length > 0) {
    merged.file = files[0]!;
    merged.files = files;
  }
  invoked = merged;
});
const globals = (): GlobalOptions => invoked;
/** A command's own options with the global ones, normalised (`file` the first -f, `files` all of them). */
const withGlobals = <T extends object>(o: T): T & GlobalOptions => ({ ...o, ...invoked });
const json = new Option("--json", "machine-readable output");
const commands = () => import("./commands.js");

const upCommand = program
  .command("up [services...]")
  .description(
    "apply the file (only changed services roll, removed ones are dropped) and wait until every process is online; with services: only those and their dependencies",
  );
for (const option of projectOptions()) upCommand.addOption(option);
upCommand
  .option("-d, --detach", "return once every process is online and every job has completed, instead of following the logs")
  .addOption(
    new Option("--timeout <seconds>", "how long the whole of up may take, the daemon's apply included")
      .default(String(DAEMON_DEFAULTS.upTimeoutSeconds))
      .argParser(positiveSeconds),
  )
  .addOption(
    new Option("--wait-settle <duration>", "how long a process must stay online, not restarted, to count as online")
      .default(`${DAEMON_DEFAULTS.upSettleMs}ms`)
      .argParser(duration),
  )
  .option("--abort-on-exit", "stop every service when a process ends, and exit with its status (foreground only)")
  .option("--exit-code-from <service>", "like --abort-on-exit, but exit with this service's status (foreground only)")
  .addOption(
    new Option("--tcp <host:port>", "a daemon started by this up also serves the API on TCP (token in <state dir>/token)").argParser(
      hostPort,
    ),
  )
  .option("--no-watch", "do not restart services when their watch: files change (foreground only; up -d never watches)")
  .action(
    async (
      services: string[],
      o: {
        detach?: boolean;
        timeout: string;
        waitSettle?: string;
        abortOnExit?: boolean;
        exitCodeFrom?: string;
        tcp?: string;
        watch?: boolean;
        envFile?: string[];
        profile?: string[];
      },
    ) => {
      // -f is the global option's (merged before and after the command); the rest is up's own.
      return (await import("./up.js")).up({ ...withGlobals(ownOptions(o)), services });
    },
  );
program
  .command("down")
  .description("stop every service, dependents first, then the daemon (with no daemon: every process the state directory records)")
  .option("-v, --volumes", "also remove the named volumes (volumes:) and their data")
  .action(async (o: { volumes?: boolean }) => (await commands()).down(withGlobals(o)));
program
  .command("ps")
  .description("list processes, by service and process number")
  .addOption(json)
  .action(async (o: { json?: boolean }) => (await commands()).ps(withGlobals(o)));
program
  .command("logs [service]")
  .description("print the logs of one service (all without a name)")
  .option("-f, --follow", "keep printing new lines")
  .addOption(
    new Option("-n, --tail <lines>", "only the last lines of each process").argParser(integerAtLeast(0, "a whole number of lines")),
  )
  .addOption(
    new Option("--since <time>", "only lines from this time on: 2026-12-02T05:00:00Z, or before now: 10m, 1h30m").argParser(timeOption),
  )
  .addOption(new Option("--until <time>", "only lines before this time (same forms as --since)").argParser(timeOption))
  .addOption(json)
  .action(async (service: string | undefined, o: { follow?: boolean; tail?: string; since?: string; until?: string; json?: boolean }) =>
    (await commands()).logs(service, withGlobals(o)),
  );
program
  .command("events")
  .description("stream status changes (a snapshot first)")
  .addOption(json)
  .action(async (o: { json?: boolean }) => (await commands()).events(withGlobals(o)));
program
  .command("scale <assignments...>")
  .description("set the number of processes, e.g. web=3 db=1")
  .action(async (a: string[]) => (await commands()).scale(a, globals()));
program
  .command("restart <service>")
  .description("replace every process of a service, one at a time")
  .action(async (s: string) => (await commands()).restart(s, globals()));
program
  .command("top")
  .description("live CPU and memory per process")
  .option("--once", "print one table and exit")
  .addOption(
    new Option("--interval <ms>", "refresh interval in milliseconds")
      .default(String(DAEMON_DEFAULTS.topIntervalMs))
      .argParser(integerAtLeast(100, "a whole number of milliseconds, at least 100")),
  )
  .action(async (o: { once?: boolean; interval: string }) => (await commands()).top(withGlobals(o)));
const secrets = program.command("secrets").description("manage secrets (values are never printed)");
secrets
  .command("set <id> [value]")
  .description("set a secret (the value from stdin when not given)")
  .action(async (id: string, value: string | undefined) => (await commands()).secretsSet(id, value, globals()));
secrets
  .command("list")
  .addOption(json)
  .description("list secret ids")
  .action(async (o: { json?: boolean }) => (await commands()).secretsList(withGlobals(o)));
secrets
  .command("rm <id>")
  .description("delete a secret")
  .action(async (id: string) => (await commands()).secretsRemove(id, globals()));
program
  .command("daemon")
  .description("run the daemon in the foreground (corral up starts one in the background)")
  .option("--environment <id>", "the environment's name (default: the file's environment:, else the folder's)")
  .addOption(new Option("--tcp <host:port>", "also serve the API on TCP (bearer token from <state dir>/token)").argParser(hostPort))
  .option("--no-auth", "serve TCP without a token (loopback addresses only)")
  .addOption(new Option("--launcher <kind>", "how processes are started").choices(["auto", "direct", "systemd", "cgroup"]))
  .action(async (o: { environment?: string; tcp?: string; auth?: boolean; launcher?: "auto" | "direct" | "systemd" | "cgroup" }) =>
    (await import("./daemon-command.js")).runDaemon(withGlobals(o)),
  );
registerDashboardCommand(program, globals);
registerMoreCommands(program, globals);

// Every command takes the global options after its name too (`corral ps -f x.yaml`), new ones included.
for (const command of [...program.commands, ...program.commands.flatMap((c) => c.commands)])
  if (command.commands.length === 0) globalOptions(command);

try {
  // Bare `corral` is a usage error (exit 2) that shows the help, as commander does for a missing command.
  await program.parseAsync(process.argv);
  // A command that ends with its own status (run, exec) sets exitCode.
  await exitAfterOutput(typeof process.exitCode === "number" ? process.exitCode : EXIT.ok);
} catch (error) {
  const [message, code] = await classify(error);
  // An exit status with nothing to add (foreground up ending with its process's status) prints nothing.
  if (message) process.stderr.write(`corral: ${message}\n`);
  await exitAfterOutput(code);
}

/**
 * process.exit once what was written has gone out: writes to a pipe are
 * asynchronous, and exiting with some queued would cut `corral logs | grep`
 * short. A write's callback runs after the writes queued before it.
 */
async function exitAfterOutput(code: number): Promise<never> {
  const flushed = (stream: NodeJS.WriteStream) =>
    new Promise<void>((resolve) => {
      if (stream.destroyed || !stream.writable) return resolve();
      stream.write("", () => resolve());
    });
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

/** The message and exit status of what a command threw. */
async function classify(error: unknown): Promise<[string, number]> {
  // commander printed its own message (help, version, a usage error) already.
  if (error instanceof CommanderError) return ["", error.exitCode === 0 ? EXIT.ok : EXIT.usage];
  if (error instanceof CliError) return [error.message, error.exitCode];
  const name = error instanceof Error ? error.name : "";
  // Each module is loaded already when its error was thrown: importing it here costs nothing.
  if (name === "DaemonAlreadyRunningError") return [messageOf(error), EXIT.noDaemon];
  const client = await import("./client.js");
  if (error instanceof client.DaemonGoneError || error instanceof client.DaemonNotAnsweringError) return [error.message, EXIT.failed];
  if (error instanceof client.DaemonUnavailableError) return [error.message, EXIT.noDaemon];
  if (error instanceof client.ApiError) return [error.message, error.status === 400 || error.status === 404 ? EXIT.usage : EXIT.failed];
  if (error instanceof client.UnexpectedAnswerError) return [error.message, EXIT.failed];
  const { ConfigError } = await import("../config/errors.js");
  const { ValidationError } = await import("../contract/errors.js");
  if (error instanceof ConfigError || error instanceof ValidationError) return [error.message, EXIT.usage];
  return [error instanceof Error ? (error.stack ?? error.message) : String(error), EXIT.failed];
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
