import type { ServicePort } from "../contract/types.js";

// Ports without a hint get a number derived from their name, so it stays the same
// when other ports come and go. Each pod has its own IP: only collisions within
// one service matter.
const FIRST = 20_000;
const SPAN = 10_000;

export function assignPorts(ports: ServicePort[]): Record<string, number> {
  const assigned: Record<string, number> = {};
  const used = new Set<number>();
  for (const port of ports) {
    if (port.portHint !== undefined) {
      assigned[port.name] = port.portHint;
      used.add(port.portHint);
    }
  }
  for (const port of ports) {
    if (port.portHint !== undefined) continue;
    let n = FIRST + (fnv1a(port.name) % SPAN);
    while (used.has(n)) n = FIRST + ((n - FIRST + 1) % SPAN);
    assigned[port.name] = n;
    used.add(n);
  }
  return assigned;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Container port names must be IANA service names (15 characters, at least one letter, no "--"). */
export function isIanaServiceName(name: string): boolean {
  return name.length <= 15 && /[a-z]/.test(name) && !name.includes("--") && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name);
}
