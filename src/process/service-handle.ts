import { ValidationError } from "../contract/errors.js";
import type { Service } from "../contract/types.js";

/** The handle ensureService returns: where each process of the service listens. */
export class ProcessService implements Service {
  constructor(
    readonly id: string,
    private readonly ports: readonly string[],
    private readonly addressesByPort: ReadonlyMap<string, string[]>,
    private readonly tcpAddressesByPort: ReadonlyMap<string, string[]> | null,
    private readonly serviceAddressesByPort: ReadonlyMap<string, { unix: string; tcp?: string }>,
  ) {}

  /** The service's own socket for `port` (for a socketDir port, its directory): balanced over the ready processes. */
  serviceAddress(port: string): string {
    return this.lookup(this.serviceAddressesByPort, port).unix;
  }

  /** The service address over TCP ("host:port"), for a port that is exposed (or every port, with the orchestrator's tcpProxy). */
  serviceTcpAddress(port: string): string {
    const { tcp } = this.lookup(this.serviceAddressesByPort, port);
    if (tcp === undefined)
      throw new ValidationError(
        "port",
        `must be exposed for a TCP service address: port ${port} of service "${this.id}" is not (set expose: true on it)`,
        port,
      );
    return tcp;
  }

  /** The Unix socket of each process for `port`, in process order. */
  addresses(port: string): string[] {
    return [...this.lookup(this.addressesByPort, port)];
  }

  /** The TCP proxy address ("host:port") of each process for `port`, in process order. */
  tcpAddresses(port: string): string[] {
    if (!this.tcpAddressesByPort) throw new ValidationError("tcpProxy", "is not enabled for this orchestrator: there are no TCP addresses");
    if (this.ports.includes(port) && !this.tcpAddressesByPort.has(port))
      throw new ValidationError(
        "port",
        `must have per-process TCP proxies for tcpAddresses: port ${port} of service "${this.id}" has none (tcpProxy.ports is "exposed"; set tcpPerProcess on it)`,
        port,
      );
    return [...this.lookup(this.tcpAddressesByPort, port)];
  }

  private lookup<T>(map: ReadonlyMap<string, T>, port: string): T {
    const found = map.get(port);
    if (!found)
      throw new ValidationError(
        "port",
        `service "${this.id}" has no port named ${JSON.stringify(port)}; its ports are: ${this.ports.join(", ") || "(none)"}`,
      );
    return found;
  }
}
