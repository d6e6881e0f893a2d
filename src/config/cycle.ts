/**
 * A dependency cycle as the path that closes it, e.g. ["a", "b", "a"], starting
 * at the cycle's first service in `order` so the report does not depend on
 * where the search happened to begin. Undefined when there is none.
 */
export function findCycle(dependencies: ReadonlyMap<string, readonly string[]>, order: readonly string[]): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, "visiting");
    stack.push(node);
    for (const next of dependencies.get(node) ?? []) {
      if (!dependencies.has(next)) continue;
      if (state.get(next) === "visiting") return stack.slice(stack.indexOf(next));
      if (state.get(next) === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of order) {
    if (state.get(node) !== undefined) continue;
    const cycle = visit(node);
    if (cycle) {
      const first = cycle.reduce((best, n) => (order.indexOf(n) < order.indexOf(best) ? n : best));
      const at = cycle.indexOf(first);
      const rotated = [...cycle.slice(at), ...cycle.slice(0, at)];
      return [...rotated, first];
    }
  }
  return undefined;
}
