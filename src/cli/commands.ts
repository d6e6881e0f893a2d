// The read and small write commands: ps, logs, events, scale, restart, top, secrets, down.
import { existsSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { z } from "../util/zod.js";
import { idSchema } from "../contract/rules.js";
import type { ServiceEvent } from "../contract/types.js";
import type { ProcessRow } from "../server/process-table.js";
import { byServiceAndProcess } from "../server/process-row.js";
import { DAEMON_DEFAULTS } from "../contract/defaults.js";
import { type ProcessIdentity, isAlive, readPidRecord } from "../process/identity.js";
import { type StatePaths, statePaths } from "../server/state-dir.js";
import { healthBody, logLineBody, processRowBody, secretIdsBody, secretStoredBody } from "../server/wire.js";
import { isErrno } from "../util/errno.js";
import { survive } from "../util/diagnostics.js";
import {
  CliError,
  EXIT,
  type GlobalOptions,
  clientFor,
  ensureDaemon,
  remoteHost,
  resolveStateDir,
  runningDaemon,
  withRunningDaemon,
} from "./context.js";
import { ApiError, DaemonGoneError, type DaemonClient, DaemonNotAnsweringError } from "./client.js";
import { bytes, colourFor, cores, duration, paint, status, table } from "./format.js";

export async function ps(options: GlobalOptions & { json?: boolean }): Promise<void> {
  // What is wrong with the daemon itself (an unloadable state file, dropped log lines) goes to stderr, beside the table.
  const [answered, health] = await withRunningDaemon(options, (client) =>
    Promise.all([client.get("/v1/processes", processRowBody.array()), client.get("/healthz", healthBody.partial({ problems: true }))]),
  );
  // By service, then process, whatever order the daemon answers in (an older one does not sort).
  const rows = answered.sort(byServiceAndProcess);
  for (const problem of health.problems ?? []) process.stderr.write(`corral: warning: ${problem}\n`);
  if (options.json) {
    const out = rows.map((r) => ({
      service: r.service,
      process: r.process,
      status: r.status,
      reason: r.reason,
      lastExitReason: r.lastExitReason ?? null,
      pid: r.pid,
      restarts: r.restarts,
      cpuNanoCores: r.cpuNanoCores,
      memoryBytes: r.memoryBytes,
      uptimeSeconds: r.uptimeSeconds,
      addresses: r.addresses,
      tcpAddresses: r.tcpAddresses,
      message: r.message,
      probes: r.probes,
      crashLooping: r.crashLooping,
    }));
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${renderProcessTable(rows)}\n`);
}

export function renderProcessTable(rows: ProcessRow[]): string {
  // Why a process is not online (a probe's last error, a spawn error) goes last: it can be long.
  const messages = rows.some((r) => r.message !== null);
  const probes = rows.some((r) => Object.keys(r.probes).length > 0);
  return table(
    [
      "SERVICE",
      "PROCESS",
      "STATUS",
      "PID",
      "RESTARTS",
      "CPU",
      "MEMORY",
      "UPTIME",
      "ADDRESS",
      ...(probes ? ["PROBES"] : []),
      ...(messages ? ["MESSAGE"] : []),
    ],
    rows.map((r) => [
      r.service,
      String(r.process),
      status(r.status, r.reason, r.crashLooping, r.lastExitReason),
      r.pid === null ? "-" : String(r.pid),
      String(r.restarts),
      cores(r.cpuNanoCores),
      bytes(r.memoryBytes),
      duration(r.uptimeSeconds),
      addressCell(r),
      ...(probes ? [probeSummary(r.probes)] : []),
      ...(messages ? [r.message ?? ""] : []),
    ]),
  );
}

/**
 * Each port once: its TCP address with the Unix socket (or socket directory)
 * behind it, `http=127.0.0.1:40001 (/…/http-0)`, or the socket alone: a client
 * on this machine may use either.
 */
function addressCell(r: ProcessRow): string {
  const ports = [...new Set([...Object.keys(r.tcpAddresses), ...Object.keys(r.addresses)])].sort();
  const cells = ports.map((port) => {
    const tcp = r.tcpAddresses[port];
    const unix = r.addresses[port];
    return `${port}=${tcp !== undefined ? (unix !== undefined ? `${tcp} (${unix})` : tcp) : unix}`;
  });
  return cells.join(" ") || "-";
}

/** `liveness=ok(3ms) startup=ok readiness=fail×2`: each probe's latest result. */
function probeSummary(probes: ProcessRow["probes"]): string {
  return (
    Object.entries(probes)
      .map(([kind, p]) => `${kind}=${p.passed ? "ok" : `fail×${p.failures}`}(${p.durationMs}ms)`)
      .join(" ") || "-"
  );
}

/** Follows or prints the logs of the given services (all when empty), each line prefixed like compose. */
export async function streamLogs(
  client: DaemonClient,
  services: string[],
  opts: { follow: boolean; tail?: number; since?: string; until?: string; json?: boolean; signal?: AbortSignal },
): Promise<void> {
  const width = Math.max(...services.map((s) => s.length + 2), 0);
  await Promise.all(
    services.map(async (service) => {
      const query = new URLSearchParams({
        follow: String(opts.follow),
        ...(opts.tail !== undefined ? { tail: String(opts.tail) } : {}),
        ...(opts.since !== undefined ? { since: opts.since } : {}),
        ...(opts.until !== undefined ? { until: opts.until } : {}),
      });
      for await (const l of client.lines(`/v1/services/${service}/logs?${query.toString()}`, logLineBody, opts.signal)) {
        if (opts.json) process.stdout.write(`${JSON.stringify({ service, ...l })}\n`);
        else {
          const name = `${service}-${l.process}`;
          process.stdout.write(`${paint(colourFor(service), name.padEnd(width))} | ${l.line}\n`);
        }
      }
    }),
  );
}

/** Only the ids of GET /v1/services: the rest of each entry is not needed here. */
const serviceIds = z.array(z.object({ id: z.string() }));

export async function logs(
  service: string | undefined,
  options: GlobalOptions & { follow?: boolean; tail?: string; since?: string; until?: string; json?: boolean },
): Promise<void> {
  const client = await runningDaemon(options);
  const services = service ? [service] : (await client.get("/v1/services", serviceIds)).map((s) => s.id);
  const tail = options.tail === undefined ? undefined : Number(options.tail);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new CliError("--tail must be a non-negative integer", EXIT.usage);
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  // Followed, exits, restarts and probe failures show inline, as in `docker compose up`.
  const statusLines = options.follow ? inlineEvents(client, new Set(services), options.json ?? false, controller.signal) : undefined;
  let failure: Error | undefined;
  try {
    await streamLogs(client, services, {
      follow: options.follow ?? false,
      ...(tail !== undefined ? { tail } : {}),
      ...(options.since !== undefined ? { since: options.since } : {}),
      ...(options.until !== undefined ? { until: options.until } : {}),
      json: options.json ?? false,
      signal: controller.signal,
    });
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
  }
  const interrupted = controller.signal.aborted;
  controller.abort();
  await statusLines?.catch(survive("cli.logs", "follow the status changes"));
  if (failure !== undefined) throw failure;
  // A followed stream ends by itself only when the daemon does.
  if (options.follow && !interrupted) throw new DaemonGoneError(`the daemon at ${client.where} went away (it stopped or was killed)`);
}

/** The live status changes of `services` (not the snapshot), one line each between the log lines. */
async function inlineEvents(client: DaemonClient, services: Set<string>, json: boolean, signal: AbortSignal): Promise<void> {
  let live = false;
  try {
    for await (const event of client.events(signal)) {
      if ("snapshotEnd" in event) live = true;
      else if (live && services.has(event.serviceId))
        process.stdout.write(json ? `${JSON.stringify({ service: event.serviceId, event })}\n` : `${describeEvent(event)}\n`);
    }
  } catch (error) {
    // The log streams say when the daemon went away; this one need not say it twice.
    if (!(error instanceof DaemonGoneError)) throw error;
  }
}

export function describeEvent(e: ServiceEvent): string {
  const name = `${e.serviceId}-${e.processId}`;
  const parts = [
    e.time.toISOString(),
    paint(colourFor(e.serviceId), name),
    e.warning
      ? paint("yellow", `warning: ${e.warning}`)
      : e.hook
        ? paint(e.hook.ok ? "cyan" : "red", `hook ${e.hook.name} ${e.hook.ok ? "ok" : "failed"}`)
        : status(e.status, e.reason ?? null),
  ];
  if (e.pid !== undefined) parts.push(`pid=${e.pid}`);
  if (e.exitCode !== undefined && e.exitCode !== null) parts.push(`exit=${e.exitCode}`);
  if (e.signal) parts.push(`signal=${e.signal}`);
  parts.push(`restarts=${e.restartCount}`);
  if (e.final) parts.push("final");
  if (e.nextStartAt) parts.push(`next start ${e.nextStartAt.toISOString()}`);
  if (e.message) parts.push(`(${e.message})`);
  return parts.join(" ");
}

export async function events(options: GlobalOptions & { json?: boolean }): Promise<void> {
  const client = await runningDaemon(options);
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  for await (const event of client.events(controller.signal)) {
    if ("snapshotEnd" in event) continue;
    process.stdout.write(options.json ? `${JSON.stringify(event)}\n` : `${describeEvent(event)}\n`);
  }
  // The stream ends by itself only when the daemon does.
  if (!controller.signal.aborted) throw new DaemonGoneError(`the daemon at ${client.where} went away (it stopped or was killed)`);
}

export async function scale(assignments: string[], options: GlobalOptions): Promise<void> {
  const client = await runningDaemon(options);
  const parsed = assignments.map((a) => {
    const [service = "", count = ""] = a.split("=", 2);
    const scale = Number(count);
    if (!idSchema.safeParse(service).success || !/^\d+$/.test(count) || !Number.isSafeInteger(scale))
      throw new CliError(`"${a}": expected <service>=<number>, e.g. web=3 (web=0 stops web, as corral stop does)`, EXIT.usage);
    return { service, scale };
  });
  for (const { service, scale: n } of parsed) {
    await client.post(`/v1/services/${service}/scale`, { scale: n });
    process.stdout.write(n === 0 ? `${service} stopped (scale 0)\n` : `${service} scaled to ${n}\n`);
  }
}

export async function restart(service: string, options: GlobalOptions): Promise<void> {
  const client = await runningDaemon(options);
  await client.post(`/v1/services/${service}/restart`);
  process.stdout.write(`${service} restarted\n`);
}

export async function top(options: GlobalOptions & { once?: boolean; interval: string }): Promise<void> {
  const client = await runningDaemon(options);
  const interval = Number(options.interval);
  if (!Number.isInteger(interval) || interval < 1) throw new CliError("--interval must be a positive number of milliseconds", EXIT.usage);
  const draw = async () => {
    const rows = (await client.get("/v1/processes", processRowBody.array())).sort(
      (a, b) => (b.cpuNanoCores ?? -1) - (a.cpuNanoCores ?? -1),
    );
    const screen = renderProcessTable(rows);
    process.stdout.write(
      options.once || !process.stdout.isTTY
        ? `${screen}\n`
        : `\x1b[H\x1b[2J${paint("grey", `corral top — every ${interval} ms, Ctrl-C to quit`)}\n${screen}\n`,
    );
  };
  await draw();
  if (options.once || !process.stdout.isTTY) return;
  await new Promise<void>((resolve) => {
    // A failed redraw (the daemon restarting) is shown by the next one that works.
    const timer = setInterval(() => void draw().catch((error: unknown) => process.stderr.write(`corral: ${String(error)}\n`)), interval);
    process.once("SIGINT", () => {
      clearInterval(timer);
      resolve();
    });
  });
}

/**
 * With a daemon, through it (it rolls the services that read a changed secret).
 * Without one — the README's "set the secrets, then `up`" — straight into the
 * state directory's secret store, as the daemon would write it (0700
 * directory, 0600 file, atomically); the next daemon reads it from there. The
 * value: the argument, else typed at a prompt that does not echo, else stdin,
 * less one trailing newline (`echo pw | corral secrets set db`).
 */
export async function secretsSet(id: string, value: string | undefined, options: GlobalOptions): Promise<void> {
  const stateDir = resolveStateDir(options);
  const client = clientFor(stateDir);
  const { readSecretValue, storeSecretWithoutDaemon } = await import("./secret-input.js");
  const contents = value !== undefined ? Buffer.from(value) : await readSecretValue(id);
  if (!(await client.alive())) {
    await storeSecretWithoutDaemon(stateDir, id, contents);
    process.stdout.write(`secret ${id} set (no daemon is running: the next one reads it)\n`);
    return;
  }
  const body = value !== undefined ? { value } : { base64: contents.toString("base64") };
  const stored = await client.call("PUT", `/v1/secrets/${id}`, body, secretStoredBody);
  process.stdout.write(`secret ${id} set${stored.rolled.length > 0 ? `; rolled ${stored.rolled.join(", ")}` : ""}\n`);
}

export async function secretsList(options: GlobalOptions & { json?: boolean }): Promise<void> {
  const client = await runningDaemon(options);
  const ids = await client.get("/v1/secrets", secretIdsBody);
  process.stdout.write(options.json ? `${JSON.stringify(ids)}\n` : ids.map((id) => `${id}\n`).join(""));
}

export async function secretsRemove(id: string, options: GlobalOptions): Promise<void> {
  const client = await runningDaemon(options);
  try {
    await client.call("DELETE", `/v1/secrets/${id}`);
  } catch (error) {
    // Not a usage error (exit 2): the command was right, there was nothing to remove (as `docker secret rm` fails).
    if (error instanceof ApiError && error.status === 404) throw new CliError(`no secret named "${id}"`, EXIT.failed);
    throw error;
  }
  process.stdout.write(`secret ${id} removed\n`);
}

/**
 * Stops every service (dependents first) and the daemon. With no daemon (or
 * one that dies meanwhile), what the state directory records is stopped from
 * it directly: never "nothing to stop" while processes of the project run.
 * With `volumes`, then removes the named volumes and their data.
 */
export async function down(options: GlobalOptions & { volumes?: boolean }): Promise<void> {
  if (remoteHost(options) !== undefined) return downRemote(options);
  const stateDir = resolveStateDir(options);
  const paths = statePaths(stateDir);
  const client = clientFor(stateDir);
  await stopEverything(stateDir, paths, client);
  // After the stop: no process of the project writes into them any more.
  if (options.volumes) await removeVolumes(stateDir);
}

/** `down --host`: the daemon stops everything; its state dir (and volumes) are on its machine, not here. */
async function downRemote(options: GlobalOptions & { volumes?: boolean }): Promise<void> {
  if (options.volumes) throw new CliError("--volumes works on the daemon's machine only (not with --host)", EXIT.usage);
  const client = await runningDaemon(options);
  await client.post("/v1/shutdown", { stopServices: true });
  const deadline = Date.now() + DAEMON_DEFAULTS.downWaitMs;
  while (await client.alive()) {
    if (Date.now() > deadline) throw new CliError(`the daemon did not stop within ${DAEMON_DEFAULTS.downWaitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write("every service stopped; daemon gone\n");
}

async function stopEverything(stateDir: string, paths: StatePaths, client: DaemonClient): Promise<void> {
  try {
    if ((await client.alive()) && (await shutDown(client, paths))) return;
  } catch (error) {
    if (!(error instanceof DaemonNotAnsweringError)) throw error;
    await killFrozenDaemon(paths, error);
  }
  // Loaded only here: stopping without a daemon needs the process backend, which the other commands of this module never load.
  const { stopWithoutDaemon } = await import("../server/stop-without-daemon.js");
  const result = await stopWithoutDaemon(
    paths,
    (pid) => new CliError(`a corral daemon (pid ${pid}) runs for ${stateDir} but does not answer`),
  );
  if ("cluster" in result) {
    // A cluster keeps its services without a daemon; one is started to stop them.
    if (await shutDown(await ensureDaemon(stateDir, result.cluster), paths)) return;
    throw new CliError(`the daemon died before it had stopped every service; see ${paths.daemonLog}`);
  }
  const namespaces = new Set(result.stopped.map((s) => s.namespace));
  const names = result.stopped.map((s) => (namespaces.size > 1 ? `${s.namespace}/${s.id}` : s.id));
  process.stdout.write(
    names.length > 0 ? `stopped ${names.join(", ")}; no daemon is running\n` : "no daemon is running; nothing to stop\n",
  );
}

/** Asks the daemon to stop everything and waits for it to exit; false when it died before it had finished. */
async function shutDown(client: DaemonClient, paths: StatePaths): Promise<boolean> {
  // Read before asking: a daemon that dies while stopping is told apart from one that finished by its pid.
  const daemon = readPidRecord(paths.pidFile);
  await client.postWithin("/v1/shutdown", { stopServices: true }).catch((error: unknown) => {
    // A daemon that dies while it is asked (SIGKILLed, out of memory) has not stopped anything: the rest is ours.
    if (daemon && !isAlive(daemon)) return;
    throw error;
  });
  if ((await untilDaemonGone(paths.socket, daemon)) === "stopped") {
    process.stdout.write("every service stopped; daemon gone\n");
    return true;
  }
  process.stdout.write(`the daemon (pid ${daemon?.pid ?? "?"}) died before it had stopped every service; stopping the rest\n`);
  return false;
}

/**
 * A daemon that accepts connections but answers nothing (SIGSTOPped, stuck)
 * cannot stop anything: it is SIGKILLed — the process daemon.json names, and
 * only while its identity (PID and start time) still matches — and the services
 * are then stopped from the state directory. Without such a record nothing is
 * killed: the error stands.
 */
async function killFrozenDaemon(paths: StatePaths, error: DaemonNotAnsweringError): Promise<void> {
  const daemon = readPidRecord(paths.pidFile);
  if (!daemon || !isAlive(daemon)) throw error;
  process.stdout.write(`the daemon (pid ${daemon.pid}) does not answer; killing it and stopping the services from ${paths.root}\n`);
  process.kill(daemon.pid, "SIGKILL");
  const deadline = Date.now() + DAEMON_DEFAULTS.downWaitMs;
  while (isAlive(daemon)) {
    if (Date.now() > deadline) throw new CliError(`the daemon (pid ${daemon.pid}) did not exit after SIGKILL`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** "stopped" once the daemon removed its socket, "died" when its process is gone first. */
async function untilDaemonGone(socket: string, daemon: ProcessIdentity | null): Promise<"stopped" | "died"> {
  const deadline = Date.now() + DAEMON_DEFAULTS.downWaitMs;
  while (Date.now() < deadline) {
    if (!existsSync(socket)) return "stopped";
    if (daemon && !isAlive(daemon)) return existsSync(socket) ? "died" : "stopped";
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new CliError(`the daemon did not stop within ${DAEMON_DEFAULTS.downWaitMs / 1000} s`);
}

/** `corral down --volumes`: every named volume of the state dir goes, as `docker compose down --volumes` removes the file's. */
async function removeVolumes(stateDir: string): Promise<void> {
  const dir = statePaths(stateDir).volumes;
  const names = await readdir(dir).catch((error: unknown) => {
    if (isErrno(error, "ENOENT")) return [];
    throw error;
  });
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(names.length === 0 ? "no volumes to remove\n" : `removed volumes: ${names.sort().join(", ")}\n`);
}
