// The dashboard's ways in, kept by the daemon for all its listeners: stateless
// session cookies (valid across daemon restarts) and one-time tickets minted
// over the Unix socket and redeemed once over TCP. A session has a scope: an
// admin session is signed with a key derived from the admin token, a read-only
// one with a key derived from the read-only token, so each dies when its token
// changes and editing the scope in the cookie breaks its signature.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";

export const CSRF_HEADER = "x-corral-csrf";
export const SESSION_SECONDS = 24 * 60 * 60;
const TICKET_MS = 5 * 60 * 1000;

/** admin: everything the admin token reaches; read: what the read-only token reaches (GET of the readScope routes). */
export type SessionScope = "admin" | "read";

export interface Session {
  sid: string;
  scope: SessionScope;
}

const mac = (key: Buffer, text: string) => createHmac("sha256", key).update(text).digest("base64url");

export class DashboardSessions {
  private readonly key: Buffer;
  private readonly readKey: Buffer;
  /** Ticket id → when it expires (ms since the epoch) and the scope of the session it opens. */
  private readonly tickets = new Map<string, { expiresAt: number; scope: SessionScope }>();

  /** The daemon's two tokens, read once at its start (a new token means a new daemon). */
  constructor(
    readonly token: string,
    readToken: string,
  ) {
    this.key = createHmac("sha256", token).update("corral dashboard session key").digest();
    this.readKey = createHmac("sha256", readToken).update("corral dashboard read-only session key").digest();
  }

  /**
   * A new session's cookie value. An admin cookie is `sid.expires.mac` (as it
   * was before scopes, so admin sessions survive the upgrade), a read-only one
   * `sid.expires.read.mac`, signed over all but the mac with the read key.
   */
  issue(scope: SessionScope): { session: Session; value: string } {
    const sid = randomBytes(16).toString("base64url");
    const expires = Math.floor(Date.now() / 1000) + SESSION_SECONDS;
    const signed = scope === "admin" ? `${sid}.${expires}` : `${sid}.${expires}.read`;
    const key = scope === "admin" ? this.key : this.readKey;
    return { session: { sid, scope }, value: `${signed}.${mac(key, signed)}` };
  }

  /** The session of a valid, unexpired cookie value (checked against the tokens the daemon has now); null otherwise. */
  verify(value: string | undefined): Session | null {
    const parts = (value ?? "").split(".");
    const [sid, expires] = parts;
    if (!sid || !expires || parts.length < 3 || parts.length > 4) return null;
    // Three parts are an admin cookie, four a read-only one; any other third part is not a scope.
    if (parts.length === 4 && parts[2] !== "read") return null;
    const scope: SessionScope = parts.length === 3 ? "admin" : "read";
    const key = scope === "admin" ? this.key : this.readKey;
    const given = parts.pop() ?? "";
    if (!equalStrings(given, mac(key, parts.join(".")))) return null;
    return Number(expires) * 1000 > Date.now() ? { sid, scope } : null;
  }

  /** The session of a request's cookie for the listener it came in on, or null. */
  sessionOf(request: FastifyRequest): Session | null {
    return this.verify(readCookie(request.headers.cookie, cookieName(request)));
  }

  /** Signed with the session's own key, so it lives exactly as long as the session does. */
  csrf(session: Session): string {
    return session.scope === "admin" ? mac(this.key, `csrf:${session.sid}`) : mac(this.readKey, `csrf:read:${session.sid}`);
  }

  mintTicket(scope: SessionScope = "admin"): { id: string; expiresAt: number } {
    const now = Date.now();
    for (const [id, ticket] of this.tickets) if (ticket.expiresAt <= now) this.tickets.delete(id);
    const id = randomBytes(24).toString("base64url");
    this.tickets.set(id, { expiresAt: now + TICKET_MS, scope });
    return { id, expiresAt: now + TICKET_MS };
  }

  /** The scope once for a live ticket, null otherwise; used up either way. */
  redeemTicket(id: string): SessionScope | null {
    const ticket = this.tickets.get(id);
    if (ticket === undefined) return null;
    this.tickets.delete(id);
    return ticket.expiresAt > Date.now() ? ticket.scope : null;
  }
}

/** One cookie per listener port, so two daemons on one host keep their sessions apart. */
export function cookieName(request: FastifyRequest): string {
  return `corral_session_${request.socket.localPort ?? 0}`;
}

export function sessionCookie(name: string, value: string): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}`;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
