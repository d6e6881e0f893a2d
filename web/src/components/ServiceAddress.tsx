// A service's own addresses (one per port: a Unix socket balancing over its
// ready processes and, where the port is exposed, a TCP listener) and what the
// balancer behind each has done. Only what the daemon said is shown: a port it
// gave no figures for shows its addresses alone, a service without ports nothing.
import type { Service } from "../store.js";
import type { EdgeStats } from "../types.js";
import { bytes } from "../format.js";
import { TcpLink } from "./ProcessRow.js";

/** The ports with a service address or figures, in the order of the spec's ports (then any the spec does not name). */
export function addressPorts(service: Service): string[] {
  const given = new Set([...Object.keys(service.addresses), ...service.edge.map((e) => e.port)]);
  const ordered = (service.spec?.ports ?? []).map((p) => p.name).filter((name) => given.has(name));
  return [...new Set([...ordered, ...given])];
}

const statsOf = (service: Service, port: string): EdgeStats | undefined => service.edge.find((e) => e.port === port);

/** The service page's section: where to connect, and the balancer's figures per port. */
export function ServiceAddressSection({ service }: { service: Service }) {
  const ports = addressPorts(service);
  if (ports.length === 0) return null;
  return (
    <section aria-labelledby="service-address-title" data-service-addresses>
      <h2 id="service-address-title">Service address</h2>
      <div class="edges">
        {ports.map((port) => {
          const address = service.addresses[port];
          const stats = statsOf(service, port);
          return (
            <div class="edge" key={port} data-service-address={port}>
              <h3 class="port">{port}</h3>
              {(address?.tcp || address?.unix) && (
                <dl class="edge-where">
                  {address.tcp && (
                    <div data-edge-tcp={address.tcp}>
                      <dt>TCP</dt>
                      <dd>
                        <TcpLink address={address.tcp} />
                      </dd>
                    </div>
                  )}
                  {address.unix && (
                    <div data-edge-unix={address.unix}>
                      <dt>Unix socket</dt>
                      <dd>
                        <code class="unix">{address.unix}</code>
                      </dd>
                    </div>
                  )}
                </dl>
              )}
              {stats && <Figures stats={stats} />}
            </div>
          );
        })}
      </div>
    </section>
  );
}

function Figures({ stats }: { stats: EdgeStats }) {
  const figures: [field: string, label: string, shown: string, value: number, title: string][] = [
    ["active", "Active", String(stats.active), stats.active, "Connections relayed to a process right now"],
    ["total", "Total", String(stats.total), stats.total, "Connections accepted since the daemon started"],
    [
      "bytes-in",
      "In",
      bytes(stats.bytesIn),
      stats.bytesIn,
      `${stats.bytesIn} bytes from clients to processes, of connections that have ended`,
    ],
    [
      "bytes-out",
      "Out",
      bytes(stats.bytesOut),
      stats.bytesOut,
      `${stats.bytesOut} bytes from processes to clients, of connections that have ended`,
    ],
    [
      "retries",
      "Retries",
      String(stats.retries),
      stats.retries,
      "Connects to a process that failed and were tried again (the client did not see them)",
    ],
    [
      "backend-errors",
      "Backend errors",
      String(stats.backendErrors),
      stats.backendErrors,
      "Connects that failed, and relayed connections that ended in an error",
    ],
    [
      "drained",
      "Drained",
      String(stats.drained),
      stats.drained,
      "Connections still open on a process when it was taken out of rotation to stop",
    ],
    ["failed", "Failed", String(stats.failed), stats.failed, "Connections closed because no process was ready to take them in time"],
  ];
  return (
    <dl class="edge-figures" aria-label="Connections">
      {figures.map(([field, label, shown, value, title]) => (
        <div
          key={field}
          title={title}
          data-edge={field}
          data-value={value}
          class={(field === "backend-errors" || field === "failed") && value > 0 ? "edge-bad" : undefined}
        >
          <dt>{label}</dt>
          <dd>{shown}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The services list's compact line: each port's TCP address, if exposed, and its open connections. */
export function ServiceEdgeLine({ service }: { service: Service }) {
  const ports = addressPorts(service);
  if (ports.length === 0) return null;
  return (
    <ul class="service-edge" aria-label="service addresses">
      {ports.map((port) => {
        const tcp = service.addresses[port]?.tcp;
        const stats = statsOf(service, port);
        return (
          <li key={port} data-service-edge={port} title={service.addresses[port]?.unix}>
            <span class="port">{port}</span>
            {tcp && <TcpLink address={tcp} />}
            {stats && (
              <span class="muted" data-edge="active" data-value={stats.active}>
                {stats.active} active
              </span>
            )}
          </li>
        );
      })}
    </ul>
  );
}
