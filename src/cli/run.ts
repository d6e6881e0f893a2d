// `corral run <service> [--] cmd...` and `corral exec <service>[-<i>] -- cmd...`,
// as docker compose has them. The daemon answers what the command starts with
// (GET /v1/services/:id/run-spec, /processes/:i/exec-spec, over the 0600 Unix
// socket: the env carries the secrets' values); this command starts it
// attached to the terminal (stdin, stdout and stderr inherited, so a TTY stays
// a TTY) and exits with its status. exec also puts it in the running
// process's cgroups before it runs anything.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { constants } from "node:os";
import { desiredStateSchema } from "../config/desired-state.js";
import { interpolateArgs } from "../config/templates.js";
import { type LaunchSpecAnswer, launchSpecBody } from "../server/wire.js";
import { applyResultBody } from "../server/wire-state.js";
import { CliError, EXIT, type GlobalOptions, runningDaemon } from "./context.js";

export interface RunOptions {
  deps?: boolean;
  rm?: boolean;
  T?: boolean;
  index?: string;
}

/** The command after `--` (passed through as written, since options after the service are the command's). */
export function withoutDashes(command: string[]): string[] {
  return command[0] === "--" ? command.slice(1) : command;
}

export async function runOneOff(service: string, command: string[], options: GlobalOptions & RunOptions): Promise<void> {
  const client = await runningDaemon(options);
  if (options.deps) {
    const state = await client.get("/v1/state", desiredStateSchema);
    for (const dependency of Object.keys(state.services[service]?.dependsOn ?? {}).sort()) {
      const result = await client.post(`/v1/services/${dependency}/start`, {}, applyResultBody);
      if (result.blocked.length > 0 || result.waiting.length > 0)
        throw new CliError(`dependency ${dependency} did not start: ${JSON.stringify([...result.blocked, ...result.waiting])}`);
    }
  }
  const spec = await client.get(`/v1/services/${service}/run-spec`, launchSpecBody);
  process.exitCode = await attached(spec, command.length > 0 ? command : [spec.command, ...spec.args]);
}

export async function execBeside(target: string, command: string[], options: GlobalOptions & RunOptions): Promise<void> {
  const client = await runningDaemon(options);
  const state = await client.get("/v1/state", desiredStateSchema);
  let service = target;
  let index = options.index === undefined ? 0 : Number(options.index);
  const suffixed = /^(.*)-(\d+)$/.exec(target);
  if (!Object.hasOwn(state.services, target) && suffixed && Object.hasOwn(state.services, suffixed[1]!)) {
    service = suffixed[1]!;
    index = Number(suffixed[2]);
  }
  if (!Object.hasOwn(state.services, service))
    throw new CliError(`no service named "${service}" (services: ${Object.keys(state.services).sort().join(", ") || "none"})`, EXIT.usage);
  if (!Number.isSafeInteger(index) || index < 0) throw new CliError("--index must be a process index", EXIT.usage);
  const spec = await client.get(`/v1/services/${service}/processes/${index}/exec-spec`, launchSpecBody);
  process.exitCode = await attached(spec, command);
}

/** Starts `argv` (placeholders filled in) as the spec says, attached to this terminal; resolves with its exit status. */
async function attached(spec: LaunchSpecAnswer, argv: string[]): Promise<number> {
  const p = spec.placeholders;
  let filled: string[];
  try {
    filled = interpolateArgs(argv, {
      fullName: p.fullName,
      processIndex: p.processIndex,
      listenAddrs: p.listenAddrs,
      socketDirs: p.socketDirs,
      volumes: p.volumes,
      ...(p.scratchDirectory !== null ? { scratchDirectory: p.scratchDirectory } : {}),
      ...(p.secretsDirectory !== null ? { secretsDirectory: p.secretsDirectory } : {}),
    });
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error), EXIT.usage);
  }
  const [program, ...args] = filled;
  if (program === undefined) throw new CliError("no command to run", EXIT.usage);
  // Joining cgroups takes root, and must happen before the command runs: sh waits on fd 3 until this process has moved it.
  const join = spec.cgroupProcs.length > 0;
  const child = spawn(join ? "/bin/sh" : program, join ? ["-c", 'read _ <&3; exec 3<&-; exec "$@"', "sh", program, ...args] : args, {
    stdio: join ? ["inherit", "inherit", "inherit", "pipe"] : "inherit",
    env: spec.env,
    ...(spec.workingDirectory !== null ? { cwd: spec.workingDirectory } : {}),
    ...(spec.uid !== null ? { uid: spec.uid } : {}),
    ...(spec.gid !== null ? { gid: spec.gid } : {}),
  });
  // Ctrl-C and the like reach the command (the terminal signals the whole foreground group); this process waits for its status.
  const ignore = () => {};
  const forwarded = ["SIGINT", "SIGQUIT", "SIGTERM", "SIGHUP"] as const;
  for (const signal of forwarded) process.on(signal, ignore);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once("error", (error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") {
          process.stderr.write(`corral: ${program}: command not found\n`);
          resolve(127); // as a shell (and docker compose run) says it
        } else if (error.code === "EACCES") {
          process.stderr.write(`corral: ${program}: permission denied\n`);
          resolve(126);
        } else reject(error);
      });
      child.once("spawn", () => {
        if (!join || child.pid === undefined) return;
        try {
          for (const file of spec.cgroupProcs) writeFileSync(file, String(child.pid));
        } catch (error) {
          child.kill("SIGKILL");
          reject(
            new CliError(
              `cannot put the command in ${spec.service}-${spec.process}'s cgroups (${String(error)}); corral exec needs root there`,
            ),
          );
          return;
        }
        const gate = child.stdio[3];
        if (gate && "end" in gate) gate.end("\n");
      });
      child.once("exit", (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
  } finally {
    for (const signal of forwarded) process.off(signal, ignore);
  }
}
