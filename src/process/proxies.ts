// The TCP proxies of the process backend (one loopback listener per process and
// port, forwarding to its Unix socket) and the Prometheus file_sd file that
// lists them.
import type { ResolvedProcessConfig, TcpProxyConfig } from "./config.js";
import type { Slot } from "./slot.js";
import { type ServiceDiscoveryTarget, writeServiceDiscoveryFile } from "./service-discovery.js";
import { TcpProxy } from "./tcp-proxy.js";
import type { ServicePort } from "../contract/types.js";
import { survive } from "../util/diagnostics.js";
import type { RememberedPorts } from "./tcp-ports.js";

export interface SlotEndpoints {
  fullId: string;
  processIndex: number;
  ports: readonly ServicePort[];
  /** Port name → the process's Unix socket. */
  listenAddrs: Readonly<Record<string, string>>;
}

/** Where the ports of earlier instances are remembered, and who hears when one could not be had again. */
export interface PortMemory {
  ports: RememberedPorts;
  namespace: string;
  serviceId: string;
  /** Said once per proxy that listens elsewhere than the port it had (or its portHint). */
  onMoved(processIndex: number, warning: string): void;
}

/**
 * Opens a TCP proxy for each port of the slot (closing those of ports that are
 * gone), when the proxy is enabled: on its portHint (process i: hint + i), else
 * on the port it had before, else on a new one, which is then remembered.
 */
export async function syncProxies(
  tcpProxy: ResolvedProcessConfig["tcpProxy"],
  slot: Slot,
  endpoints: SlotEndpoints,
  memory: PortMemory,
): Promise<void> {
  const { fullId, processIndex, listenAddrs } = endpoints;
  const proxied = endpoints.ports.filter((port) => hasProcessProxy(tcpProxy, port));
  for (const [name, listener] of slot.proxies) {
    if (listenAddrs[name] === listener.socketPath && proxied.some((port) => port.name === name)) continue;
    slot.proxies.delete(name);
    await listener.close();
  }
  if (!tcpProxy) return;
  for (const port of proxied) {
    if (slot.proxies.has(port.name)) continue;
    const key = { namespace: memory.namespace, serviceId: memory.serviceId, processIndex, port: port.name };
    // A hint names the port of process 0 (process i asks for hint + i), unless the port is exposed: then it is the service address's.
    const hint = port.expose ? undefined : port.portHint;
    const hinted = hint !== undefined && hint + processIndex <= 65535 ? hint + processIndex : undefined;
    const remembered = await memory.ports.get(key);
    const wanted = hinted ?? remembered;
    const name = `${fullId}-${processIndex}-${port.name}`;
    const listener = await TcpProxy.listen({
      host: tcpProxy.listenAddr,
      socketPath: listenAddrs[port.name]!,
      name,
      ...(wanted !== undefined ? { portHint: wanted } : {}),
      onWarning: (message) => process.emitWarning(message, "CorralWarning"),
    });
    slot.proxies.set(port.name, listener);
    if (wanted !== undefined && listener.port !== wanted) {
      const what = hinted !== undefined ? "its portHint" : "the port it had before";
      memory.onMoved(
        processIndex,
        `TCP proxy of port ${port.name}: ${what}, ${wanted}, is taken by someone else; it listens on ${listener.address} now`,
      );
    }
    await memory.ports.remember(key, listener.port).catch(survive("process.tcp-ports", "remember", { proxy: name }));
  }
}

/** Whether each process gets a TCP proxy for `port`: every port with tcpProxy.ports "all", else those asking with tcpPerProcess. */
export function hasProcessProxy(tcpProxy: TcpProxyConfig | undefined, port: ServicePort): boolean {
  if (!tcpProxy) return false;
  return (tcpProxy.ports ?? "all") === "all" || port.tcpPerProcess === true;
}

/** The TCP listener of a port's service address, if it has one: where (and on which port, when fixed) it listens. */
export function serviceTcpListener(tcpProxy: TcpProxyConfig | undefined, port: ServicePort): { host: string; port?: number } | undefined {
  if (port.expose === false) return undefined;
  if (port.expose === undefined && (!tcpProxy || tcpProxy.ports === "exposed")) return undefined;
  const host = typeof port.expose === "string" ? port.expose : (tcpProxy?.listenAddr ?? "127.0.0.1");
  return { host, ...(port.expose && port.portHint !== undefined ? { port: port.portHint } : {}) };
}

export async function closeProxies(slots: readonly Slot[]): Promise<void> {
  await Promise.all(slots.flatMap((slot) => [...slot.proxies.values()].map((p) => p.close())));
  for (const slot of slots) slot.proxies.clear();
}

/** Every process's TCP proxy address per port, with its service's labels: what Prometheus discovers. */
export function proxyTargets(
  services: Iterable<{ id: string; slots: readonly Slot[]; labels: Record<string, string> }>,
): ServiceDiscoveryTarget[] {
  const targets: ServiceDiscoveryTarget[] = [];
  for (const { id, slots, labels } of services) {
    for (const [processIndex, slot] of slots.entries()) {
      for (const [port, proxy] of slot.proxies) targets.push({ serviceId: id, processIndex, port, address: proxy.address, labels });
    }
  }
  return targets;
}

/** Rewrites `<dir>/<namespace>.json` with the targets (atomically; removed when empty), when discovery is configured. */
export async function writeDiscovery(
  tcpProxy: ResolvedProcessConfig["tcpProxy"],
  namespace: string,
  targets: readonly ServiceDiscoveryTarget[],
): Promise<void> {
  const dir = tcpProxy?.prometheusServiceDiscoveryDir;
  if (dir) await writeServiceDiscoveryFile(dir, namespace, targets);
}
