import type { ServiceAssignments } from "./types.js";

/**
 * One process's assignments, with `peerAddrs` copied from `peers` only when
 * read: each process gets a list of its own (its args function may change it
 * without touching another's), but a copy made up front for every process is
 * n² objects at scale n — 250,000 at 500 — for args that never look at peers.
 */
export function withPeerAddrs(
  fields: Omit<ServiceAssignments, "peerAddrs">,
  peers: readonly Readonly<Record<string, string>>[],
): ServiceAssignments {
  let own: Record<string, string>[] | undefined;
  return {
    ...fields,
    get peerAddrs() {
      return (own ??= peers.map((peer) => ({ ...peer })));
    },
    set peerAddrs(value) {
      own = value;
    },
  };
}
