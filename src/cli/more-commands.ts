// The commands added after the first ones (config, stop/start, run/exec):
// registered here with their options, their code imported when they run, so
// that `corral --help` loads none of it.
import type { Command } from "commander";
import type { GlobalOptions } from "./context.js";
import { ownOptions as own, projectOptions } from "./options.js";
import type { ConfigOptions } from "./config-command.js";
import type { RunOptions } from "./run.js";
import type { PortOptions } from "./port.js";

export function registerMoreCommands(program: Command, globals: () => GlobalOptions): void {
  const config = program
    .command("config [services...]")
    .description("print the file as resolved: variables filled in, overrides merged, extends applied, only the services that run")
    .option("--json", "print it as JSON")
    .option("--services", "print only the names of the services that run, one a line")
    .option("--why <field>", "where each value under a field came from (file:line:col, and the variables it used), e.g. services.web.env");
  for (const option of projectOptions()) config.addOption(option);
  config.action(async (services: string[], o: ConfigOptions) =>
    (await import("./config-command.js")).config(services, { ...own(o), ...globals() }),
  );

  program
    .command("stop [services...]")
    .description("stop the processes of services (all without a name), dependents first; they stay in the file's state, stopped")
    .action(async (services: string[]) => (await import("./stop-start.js")).stopServices(services, globals()));
  program
    .command("start [services...]")
    .description("start stopped services (all without a name) and the stopped services they depend on")
    .action(async (services: string[]) => (await import("./stop-start.js")).startServices(services, globals()));

  program
    .command("run <service> [command...]")
    .description("run a one-off command with the service's env, working directory, user, volumes and secrets, attached to the terminal")
    .option("--deps", "start the services it depends on first (and wait for their condition)")
    .option("--rm", "accepted for compose's sake: a one-off leaves nothing behind anyway")
    .passThroughOptions()
    .action(async (service: string, command: string[], o: RunOptions) => {
      const run = await import("./run.js");
      await run.runOneOff(service, run.withoutDashes(command), { ...globals(), ...own(o) });
    });
  program
    .command("port <service> <port>")
    .description("print the service's address for a port: host:port where it is exposed over TCP (--unix: its Unix socket)")
    .option("--unix", "print the Unix socket (for a socketDir port, its directory, as psql -h takes it)")
    .option("--index <i>", "one process's address instead of the service's (which balances over the ready processes)")
    .action(async (service: string, port: string, o: PortOptions) =>
      (await import("./port.js")).printPort(service, port, { ...globals(), ...own(o) }),
    );
  program
    .command("exec <target> <command...>")
    .description("run a command next to a running process (<service> or <service>-<i>): its env, working directory, user and cgroups")
    .option("--index <i>", "the process (default 0, or the -<i> of the target)")
    .option("-T, --no-TTY", "accepted for compose's sake: the terminal is inherited as it is, never allocated")
    .passThroughOptions()
    .action(async (target: string, command: string[], o: RunOptions) => {
      const run = await import("./run.js");
      await run.execBeside(target, run.withoutDashes(command), { ...globals(), ...own(o) });
    });
}
