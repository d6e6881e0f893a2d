// Who a service runs as. Node has no getpwnam, and /etc/passwd is not the
// whole story where NSS adds users (LDAP, systemd-homed): `getent` asks libc,
// which knows every source the machine is configured with.
import { execFileSync } from "node:child_process";
import { ValidationError } from "../contract/errors.js";

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
