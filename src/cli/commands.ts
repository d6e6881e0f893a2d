// The read and small write commands: ps, logs, events, scale, restart, top, secrets, down.
import type { ServiceEvent } from "../contract/types.js";
import type { ProcessRow } from "../server/process-table.js";
import { statePaths } from "../server/state-dir.js";
import { existsSync } from "node:fs";
import { CliError, EXIT, type GlobalOptions, clientFor, resolveStateDir, runningDaemon } from "./context.js";
import type { DaemonClient } from "./client.js";
import { bytes, colourFor, cores, duration, paint, status, table } from "./format.js";

export async function ps(options: GlobalOptions & { json?: boolean }): Promise<void> {
  const client = await runningDaemon(options);
  const rows = await client.get<ProcessRow[]>("/v1/processes");
  if (options.json) {
    const out = rows.map((r) => ({
      service: r.service,
      process: r.process,
      status: r.status,
      reason: r.reason,
      pid: r.pid,
      restarts: r.restarts,
      cpuNanoCores: r.cpuNanoCores,
      memoryBytes: r.memoryBytes,
      uptimeSeconds: r.uptimeSeconds,
      addresses: r.addresses,
    }));
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${renderProcessTable(rows)}\n`);
}

export function renderProcessTable(rows: ProcessRow[]): string {
  return table(
    ["SERVICE", "PROCESS", "STATUS", "PID", "RESTARTS", "CPU", "MEMORY", "UPTIME", "ADDRESS"],
    rows.map((r) => [
      r.service,
      String(r.process),
      status(r.status, r.reason),
      r.pid === null ? "-" : String(r.pid),
      String(r.restarts),
      cores(r.cpuNanoCores),
      bytes(r.memoryBytes),
      duration(r.uptimeSeconds),
      Object.entries(r.tcpAddresses)
        .map(([p, a]) => `${p}=${a}`)
        .join(" ") ||
        Object.values(r.addresses).join(" ") ||
        "-",
    ]),
  );
}

interface WireLogLine {
  process: number;
  time: string;
  stream: "stdout" | "stderr";
  line: string;
}

/** Follows or prints the logs of the given services (all when empty), each line prefixed like compose. */
export async function streamLogs(
  client: DaemonClient,
  services: string[],
  opts: { follow: boolean; tail?: number; json?: boolean; signal?: AbortSignal },
): Promise<void> {
  const width = Math.max(...services.map((s) => s.length + 2), 0);
  await Promise.all(
    services.map(async (service) => {
      const query = new URLSearchParams({ follow: String(opts.follow), ...(opts.tail !== undefined ? { tail: String(opts.tail) } : {}) });
      for await (const l of client.lines<WireLogLine>(`/v1/services/${service}/logs?${query.toString()}`, opts.signal)) {
        if (opts.json) process.stdout.write(`${JSON.stringify({ service, ...l })}\n`);
        else {
          const name = `${service}-${l.process}`;
          process.stdout.write(`${paint(colourFor(service), name.padEnd(width))} | ${l.line}\n`);
        }
      }
    }),
  );
}

export async function logs(
  service: string | undefined,
  options: GlobalOptions & { follow?: boolean; tail?: string; json?: boolean },
): Promise<void> {
  const client = await runningDaemon(options);
  const services = service ? [service] : (await client.get<{ id: string }[]>("/v1/services")).map((s) => s.id);
  const tail = options.tail === undefined ? undefined : Number(options.tail);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new CliError("--tail must be a non-negative integer", EXIT.usage);
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  await streamLogs(client, services, {
    follow: options.follow ?? false,
    ...(tail !== undefined ? { tail } : {}),
    json: options.json ?? false,
    signal: controller.signal,
  });
}

export function describeEvent(e: ServiceEvent): string {
  const name = `${e.serviceId}-${e.processId}`;
  const parts = [
    e.time.toISOString(),
    paint(colourFor(e.serviceId), name),
    e.warning ? paint("yellow", `warning: ${e.warning}`) : status(e.status, e.reason ?? null),
  ];
  if (e.pid !== undefined) parts.push(`pid=${e.pid}`);
  if (e.exitCode !== undefined && e.exitCode !== null) parts.push(`exit=${e.exitCode}`);
  if (e.signal) parts.push(`signal=${e.signal}`);
  parts.push(`restarts=${e.restartCount}`);
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
}

export async function scale(assignments: string[], options: GlobalOptions): Promise<void> {
  const client = await runningDaemon(options);
  const parsed = assignments.map((a) => {
    const match = /^([a-z0-9]([a-z0-9-]*[a-z0-9])?)=(\d+)$/.exec(a);
    if (!match || Number(match[3]) < 1) throw new CliError(`"${a}": expected <service>=<positive number>, e.g. web=3`, EXIT.usage);
    return { service: match[1]!, scale: Number(match[3]) };
  });
  for (const { service, scale: n } of parsed) {
    await client.post(`/v1/services/${service}/scale`, { scale: n });
    process.stdout.write(`${service} scaled to ${n}\n`);
  }
}

export async function restart(service: string, options: GlobalOptions): Promise<void> {
  const client = await runningDaemon(options);
  await client.post(`/v1/services/${service}/restart`);
  process.stdout.write(`${service} restarted\n`);
}

export async function top(options: GlobalOptions & { once?: boolean; interval?: string }): Promise<void> {
  const client = await runningDaemon(options);
  const interval = Number(options.interval ?? 1000);
  const draw = async () => {
    const rows = (await client.get<ProcessRow[]>("/v1/processes")).sort((a, b) => (b.cpuNanoCores ?? -1) - (a.cpuNanoCores ?? -1));
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
    const timer = setInterval(() => void draw().catch(() => {}), interval);
    process.once("SIGINT", () => {
      clearInterval(timer);
      resolve();
    });
  });
}

export async function secretsSet(id: string, value: string | undefined, options: GlobalOptions): Promise<void> {
  const client = await runningDaemon(options);
  let contents = value;
  if (contents === undefined) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    contents = Buffer.concat(chunks).toString("base64");
    await client.call("PUT", `/v1/secrets/${id}`, { base64: contents });
  } else {
    await client.call("PUT", `/v1/secrets/${id}`, { value: contents });
  }
  process.stdout.write(`secret ${id} set\n`);
}

export async function secretsList(options: GlobalOptions & { json?: boolean }): Promise<void> {
  const client = await runningDaemon(options);
  const ids = await client.get<string[]>("/v1/secrets");
  process.stdout.write(options.json ? `${JSON.stringify(ids)}\n` : ids.map((id) => `${id}\n`).join(""));
}

export async function secretsRemove(id: string, options: GlobalOptions): Promise<void> {
  const client = await runningDaemon(options);
  await client.call("DELETE", `/v1/secrets/${id}`);
  process.stdout.write(`secret ${id} removed\n`);
}

/** Stops every service (dependents first) and the daemon. */
export async function down(options: GlobalOptions): Promise<void> {
  const stateDir = resolveStateDir(options);
  const client = clientFor(stateDir);
  if (!(await client.alive())) {
    process.stdout.write("no daemon is running; nothing to stop\n");
    return;
  }
  await client.post("/v1/shutdown", { stopServices: true });
  const socket = statePaths(stateDir).socket;
  const deadline = Date.now() + 120_000;
  while (existsSync(socket) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (existsSync(socket)) throw new CliError("the daemon did not stop within 120 s");
  process.stdout.write("every service stopped; daemon gone\n");
}
