// Who a service runs as. Node has no getpwnam, and /etc/passwd is not the
// whole story where NSS adds users (LDAP, systemd-homed): `getent` asks libc,
// which knows every source the machine is configured with.
import { execFileSync } from "node:child_process";
import { delimiter, join } from "node:path";
import { ValidationError } from "../contract/errors.js";
import { executableProblem } from "../util/executable.js";

export interface ServiceUser {
  /** The name of the user, when it has one (a bare numeric uid may not). */
  name: string | null;
  uid: number;
  /** The group the process runs with: the service's `group`, else the user's primary group. */
  gid: number;
  home: string | null;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

const cache = new Map<string, PasswdEntry | null>();

function getent(database: "passwd" | "group", key: string): string[] | null {
  try {
    const line = execFileSync("getent", [database, key], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 })
      .split("\n")[0]
      ?.trim();
    return line ? line.split(":") : null;
  } catch {
    // getent exits 2 for "no such key": the caller turns null into the user's error.
    return null;
  }
}

function passwd(key: string): PasswdEntry | null {
  if (cache.has(`passwd:${key}`)) return cache.get(`passwd:${key}`) ?? null;
  const fields = getent("passwd", key);
  const entry =
    fields && fields.length >= 7 ? { name: fields[0]!, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]! } : null;
  cache.set(`passwd:${key}`, entry);
  return entry;
}

function groupId(group: string | number): number | null {
  if (typeof group === "number") return group;
  if (/^\d+$/.test(group)) return Number(group);
  const fields = getent("group", group);
  return fields && fields.length >= 3 ? Number(fields[2]) : null;
}

/**
 * Resolves a service's `user` (a name or a numeric uid) and optional `group`
 * (a name or gid). A numeric uid without a passwd entry is allowed, as
 * container runtimes allow it; then the group defaults to the same number.
 */
export function resolveServiceUser(user: string | number, group?: string | number): ServiceUser {
  const numeric = typeof user === "number" ? user : /^\d+$/.test(user) ? Number(user) : null;
  const entry = passwd(String(user));
  if (!entry && numeric === null) throw new ValidationError("user", "names no user on this machine (getent passwd found nothing)", user);
  const uid = entry?.uid ?? numeric!;
  let gid = entry?.gid ?? uid;
  if (group !== undefined) {
    const resolved = groupId(group);
    if (resolved === null) throw new ValidationError("group", "names no group on this machine (getent group found nothing)", group);
    gid = resolved;
  }
  return { name: entry?.name ?? null, uid, gid, home: entry?.home ?? null };
}

/** True when processes started from here would run as someone else than this process. */
export function isOtherUser(user: ServiceUser): boolean {
  return process.getuid?.() !== user.uid || process.getgid?.() !== user.gid;
}

/** How a user shows in messages: its name and uid, or the uid alone. */
export function describeUser(user: Pick<ServiceUser, "name" | "uid">): string {
  return user.name === null ? `uid ${user.uid}` : `${user.name} (uid ${user.uid})`;
}

/**
 * Who a service's processes run as, when that is someone else than this
 * process: its `user` (default: ours) with its `group` (default: the user's
 * primary group). Undefined when the service names neither, or names us.
 * Only root can start a process as someone else: a ValidationError otherwise.
 */
export function serviceRunAs(config: { user?: string | number; group?: string | number }): ServiceUser | undefined {
  if (config.user === undefined && config.group === undefined) return undefined;
  const ownUid = process.getuid?.() ?? 0;
  const user = resolveServiceUser(config.user ?? ownUid, config.group);
  if (!isOtherUser(user)) return undefined;
  if (ownUid !== 0) {
    const field = config.user !== undefined && user.uid !== ownUid ? "user" : "group";
    const who = field === "user" ? describeUser(user) : `group ${user.gid}`;
    throw new ValidationError(
      field,
      `corral runs as uid ${ownUid} and cannot start processes as ${who}: only root can; run corral as root, or leave ${field} out`,
      field === "user" ? config.user : config.group,
    );
  }
  setprivPath(); // a missing setpriv is said now, not as a crash loop
  return user;
}

let setpriv: string | undefined;

/** setpriv(1) from util-linux: it changes the user and execs in place, so the PID corral supervises stays the server's. */
function setprivPath(): string {
  if (setpriv) return setpriv;
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/bin"]) {
    if (dir === "") continue;
    const candidate = join(dir, "setpriv");
    if (executableProblem(candidate) === undefined) return (setpriv = candidate);
  }
  throw new ValidationError("user", "needs setpriv (util-linux) on PATH to start a process as another user");
}

/**
 * `setpriv --reuid --regid <groups> -- <program> <args>`: the command that
 * drops to `user` and then execs the program. A named user gets its
 * supplementary groups (as a login would: postgres is in ssl-cert to read its
 * key); a bare uid has none, so it gets none of ours either.
 */
export function asUser(user: ServiceUser, program: string, args: readonly string[]): { program: string; args: string[] } {
  const groups = user.name === null ? "--clear-groups" : "--init-groups";
  return { program: setprivPath(), args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, groups, "--", program, ...args] };
}
