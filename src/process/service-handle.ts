import { ValidationError } from "../contract/errors.js";
import type { Service } from "../contract/types.js";

/** The handle ensureService returns: where each process of the service listens. */
export class ProcessService implements Service {
  constructor(
    readonly id: string,
    private readonly ports: readonly string[],
    private readonly addressesByPort: ReadonlyMap<string, string[]>,
    private readonly tcpAddressesByPort: ReadonlyMap<string, string[]> | null,
  ) {}

  /** The Unix socket of each process for `port`, in process order. */
  addresses(port: string): string[] {
    return [...this.lookup(this.addressesByPort, port)];
  }

  /** The TCP proxy address ("host:port") of each process for `port`, in process order. */
  tcpAddresses(port: string): string[] {
    if (!this.tcpAddressesByPort) throw new ValidationError("tcpProxy", "is not enabled for this orchestrator: there are no TCP addresses");
    return [...this.lookup(this.tcpAddressesByPort, port)];
  }

  private lookup(map: ReadonlyMap<string, string[]>, port: string): string[] {
    const found = map.get(port);
    if (!found)
      throw new ValidationError(
        "port",
        `service "${this.id}" has no port named ${JSON.stringify(port)}; its ports are: ${this.ports.join(", ") || "(none)"}`,
      );
    return found;
  }
}
