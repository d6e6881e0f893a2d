// Can a service's user reach what it needs? Asked of the kernel, as that user
// (one `setpriv ... sh` per check), rather than worked out from mode bits:
// ACLs, supplementary groups and mount options all count, and the answer is
// the one the process would get. Every directory from / down is tested, so the
// message names the first one that stops the user, and how to let it through.
import { execFile } from "node:child_process";
import { statSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import { ValidationError } from "../contract/errors.js";
import { type ServiceUser, asUser, describeUser } from "./users.js";

export interface UserNeed {
  /** What the path is to the service, for the message: "image", "volume pgdata", ... */
  what: string;
  path: string;
  /** The path itself must be executable by the user (an image); else it must be reachable (a directory, or one corral will create there). */
  execute?: boolean;
}

// Prints each argument the user may not search (a directory) or execute (a file).
const PROBE = 'for p do [ -x "$p" ] || printf "%s\\n" "$p"; done';

/** Throws a ValidationError naming `user` for the first need the user cannot reach. */
export async function checkUserAccess(user: ServiceUser, needs: readonly UserNeed[]): Promise<void> {
  const chains = needs.map((need) => ({ need, chain: existingChain(need.path) }));
  const tested = [...new Set(chains.flatMap(({ chain }) => chain.map((link) => link.path)))];
  const refused = new Set(await refusedAs(user, tested));
  for (const { need, chain } of chains) {
    const blocked = chain.find((link) => refused.has(link.path));
    if (!blocked) continue;
    const own = blocked.path === need.path && need.execute;
    const how = own
      ? `it is ${describeStats(blocked.stats)}; let the user execute it (e.g. chmod o+x ${blocked.path})`
      : `${blocked.path} is ${describeStats(blocked.stats)}; let the user through (e.g. chmod o+x ${blocked.path}) or put the ${need.what} elsewhere`;
    throw new ValidationError(
      "user",
      `${describeUser(user)} cannot ${own ? "execute" : "reach"} the ${need.what} ${need.path}: ${how}`,
      user.name ?? user.uid,
    );
  }
}

interface Link {
  path: string;
  stats: Stats;
}

/** The path's existing ancestors from / down, and the path itself when it exists (corral creates the rest). */
function existingChain(path: string): Link[] {
  const chain: Link[] = [];
  for (let current = path; ; current = dirname(current)) {
    const stats = statOrNull(current);
    if (stats) chain.unshift({ path: current, stats });
    if (current === dirname(current)) return chain;
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    // Missing (corral will create it) or not ours to stat: the probe as the user decides.
    return null;
  }
}

function describeStats(stats: Stats): string {
  return `mode ${(stats.mode & 0o7777).toString(8).padStart(4, "0")} owned by uid ${stats.uid}, gid ${stats.gid}`;
}

function refusedAs(user: ServiceUser, paths: readonly string[]): Promise<string[]> {
  if (paths.length === 0) return Promise.resolve([]);
  const { program, args } = asUser(user, "/bin/sh", ["-c", PROBE, "sh", ...paths]);
  return new Promise((resolve, reject) => {
    execFile(program, args, { encoding: "utf8", timeout: 10_000, maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`checking what ${describeUser(user)} can reach failed: ${stderr.trim() || error.message}`));
      else resolve(stdout.split("\n").filter((line) => line !== ""));
    });
  });
}
