// The TCP proxies of the process backend (one loopback listener per process and
// port, forwarding to its Unix socket) and the Prometheus file_sd file that
// lists them.
import type { ResolvedProcessConfig } from "./config.js";
import type { Slot } from "./slot.js";
import { type ServiceDiscoveryTarget, writeServiceDiscoveryFile } from "./service-discovery.js";
import { TcpProxy } from "./tcp-proxy.js";
import type { ServicePort } from "../contract/types.js";

export interface SlotEndpoints {
  fullId: string;
  processIndex: number;
  ports: readonly ServicePort[];
  /** Port name → the process's Unix socket. */
  listenAddrs: Readonly<Record<string, string>>;
}

/** Opens a TCP proxy for each port of the slot (closing those of ports that are gone), when the proxy is enabled. */
export async function syncProxies(tcpProxy: ResolvedProcessConfig["tcpProxy"], slot: Slot, endpoints: SlotEndpoints): Promise<void> {
  if (!tcpProxy) return;
  const { fullId, processIndex, listenAddrs } = endpoints;
  for (const [name, listener] of slot.proxies) {
    if (listenAddrs[name] === listener.socketPath) continue;
    slot.proxies.delete(name);
    await listener.close();
  }
  for (const port of endpoints.ports) {
    if (slot.proxies.has(port.name)) continue;
    const listener = await TcpProxy.listen({
      host: tcpProxy.listenAddr,
      socketPath: listenAddrs[port.name]!,
      name: `${fullId}-${processIndex}-${port.name}`,
      // A hint names the port of process 0; process i asks for hint + i.
      ...(port.portHint !== undefined && port.portHint + processIndex <= 65535 ? { portHint: port.portHint + processIndex } : {}),
      onWarning: (message) => process.emitWarning(message, "CorralWarning"),
    });
    slot.proxies.set(port.name, listener);
  }
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
