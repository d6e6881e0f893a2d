import type { DesiredState } from "./types.js";

/**
 * Services in the order they may start: each layer depends only on earlier
 * layers, so a layer's services can start together once the previous layer
 * meets its conditions. Sorted by id within a layer, so the order is the same
 * however the state's keys happen to be ordered. Dependencies on services not
 * in the state are ignored (they are someone else's to start).
 */
export function startOrder(state: DesiredState): string[][] {
  const ids = Object.keys(state.services).sort();
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) throw new Error(`dependency cycle through service ${JSON.stringify(id)}`);
    visiting.add(id);
    let d = 0;
    for (const dep of Object.keys(state.services[id]!.dependsOn)) {
      if (Object.hasOwn(state.services, dep)) d = Math.max(d, depthOf(dep) + 1);
    }
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  const layers: string[][] = [];
  for (const id of ids) (layers[depthOf(id)] ??= []).push(id);
  return layers.filter((layer) => layer !== undefined);
}

/** The reverse of startOrder: dependents stop before what they depend on. */
export function stopOrder(state: DesiredState): string[][] {
  return startOrder(state).reverse();
}
