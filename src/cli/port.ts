// `corral port <service> <port>`: where a client reaches a service, as
// `docker compose port` prints a published port. Without --index it is the
// service address (balanced over the ready processes); with it, one process's.
import { serviceBody } from "../server/wire-state.js";
import { CliError, EXIT, type GlobalOptions, runningDaemon } from "./context.js";

export interface PortOptions {
  unix?: boolean;
  index?: string;
}

export async function printPort(service: string, port: string, options: PortOptions & GlobalOptions): Promise<void> {
  const client = await runningDaemon(options);
  const found = await client.get(`/v1/services/${encodeURIComponent(service)}`, serviceBody);
  const ports = found.spec.ports.map((p) => p.name);
  if (!ports.includes(port))
    throw new CliError(`service ${service} has no port named "${port}" (ports: ${ports.join(", ") || "none"})`, EXIT.usage);
  const kind = options.unix ? "unix" : "tcp";
  const address = options.index === undefined ? found.serviceAddresses[port]?.[kind] : processAddress(found, port, options.index, kind);
  if (address === undefined) {
    const fix = options.unix ? "" : ` (give the port expose: true in corral.yaml, or use --unix for its Unix socket)`;
    throw new CliError(`port ${port} of ${service} has no ${options.unix ? "Unix socket" : "TCP address"}${fix}`, EXIT.failed);
  }
  process.stdout.write(`${address}\n`);
}

function processAddress(
  found: { processes: { process: number; addresses: Record<string, string>; tcpAddresses: Record<string, string> }[] },
  port: string,
  index: string,
  kind: "unix" | "tcp",
): string | undefined {
  const i = Number(index);
  if (!Number.isInteger(i) || i < 0)
    throw new CliError(`--index: must be a process index (0, 1, ...), not ${JSON.stringify(index)}`, EXIT.usage);
  const row = found.processes.find((p) => p.process === i);
  if (row === undefined) throw new CliError(`--index: the service has no process ${i} (it runs ${found.processes.length})`, EXIT.usage);
  return (kind === "unix" ? row.addresses : row.tcpAddresses)[port];
}
