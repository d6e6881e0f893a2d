// The dashboard's ways in, kept by the daemon for all its listeners: stateless
// session cookies signed with a key derived from the daemon's token (valid
// across daemon restarts, dead with a new token), and one-time tickets minted
// over the Unix socket and redeemed once over TCP.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";

export const CSRF_HEADER = "x-corral-csrf";
export const SESSION_SECONDS = 24 * 60 * 60;
const TICKET_MS = 5 * 60 * 1000;

export class DashboardSessions {
  private readonly key: Buffer;
  /** Ticket id → when it expires (ms since the epoch). */
  private readonly tickets = new Map<string, number>();

  constructor(readonly token: string) {
    this.key = createHmac("sha256", token).update("corral dashboard session key").digest();
  }

  private mac(text: string): string {
    return createHmac("sha256", this.key).update(text).digest("base64url");
  }

  issue(): { sid: string; value: string } {
    const sid = randomBytes(16).toString("base64url");
    const expires = Math.floor(Date.now() / 1000) + SESSION_SECONDS;
    return { sid, value: `${sid}.${expires}.${this.mac(`${sid}.${expires}`)}` };
  }

  /** The session id of a valid, unexpired cookie value; null otherwise. */
  verify(value: string | undefined): string | null {
    const [sid, expires, mac, extra] = (value ?? "").split(".");
    if (!sid || !expires || !mac || extra !== undefined) return null;
    if (!equalStrings(mac, this.mac(`${sid}.${expires}`))) return null;
    return Number(expires) * 1000 > Date.now() ? sid : null;
  }

  /** The session of a request's cookie for the listener it came in on, or null. */
  sessionOf(request: FastifyRequest): string | null {
    return this.verify(readCookie(request.headers.cookie, cookieName(request)));
  }

  csrf(sid: string): string {
    return this.mac(`csrf:${sid}`);
  }

  mintTicket(): { id: string; expiresAt: number } {
    const now = Date.now();
    for (const [id, expiresAt] of this.tickets) if (expiresAt <= now) this.tickets.delete(id);
    const id = randomBytes(24).toString("base64url");
    this.tickets.set(id, now + TICKET_MS);
    return { id, expiresAt: now + TICKET_MS };
  }

  /** True once for a live ticket; used up either way. */
  redeemTicket(id: string): boolean {
    const expiresAt = this.tickets.get(id);
    if (expiresAt === undefined) return false;
    this.tickets.delete(id);
    return expiresAt > Date.now();
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
