// No client can hurt the daemon through its API: connections are bounded per
// listener and per TCP client (address), and at the bound the oldest idle
// connection makes room (a flood of idle sockets cannot lock anyone out);
// streams and requests in flight are kept. Accept errors such as EMFILE are
// reported, never fatal: the server keeps listening and tries again.
import type { Server } from "node:http";
import type { Socket } from "node:net";
import { reportSurvivable } from "../../util/diagnostics.js";

export interface ConnectionLimits {
  total: number;
  perClient: number;
  /** A connection with nothing in flight closes after this long idle; one with a request (an apply waiting, a stream) never does. */
  idleMs: number;
}

export function limitConnections(server: Server, limits: ConnectionLimits): void {
  // Insertion order is age: the first idle one found is the oldest.
  const open = new Set<Socket>();
  const busy = new Map<Socket, number>();
  const clientOf = (socket: Socket) => socket.remoteAddress ?? "local";
  const evictIdle = (among: (socket: Socket) => boolean): boolean => {
    for (const socket of open)
      if (!busy.has(socket) && among(socket)) {
        socket.destroy();
        open.delete(socket);
        return true;
      }
    return false;
  };
  server.on("connection", (socket: Socket) => {
    const client = clientOf(socket);
    // A Unix socket has no peer address: every client is "local", bounded by the total alone.
    const sameClient = (s: Socket) => clientOf(s) === client;
    if (client !== "local" && [...open].filter(sameClient).length >= limits.perClient && !evictIdle(sameClient)) {
      socket.destroy();
      return;
    }
    if (open.size >= limits.total && !evictIdle(() => true)) {
      socket.destroy();
      return;
    }
    open.add(socket);
    socket.setTimeout(limits.idleMs, () => socket.destroy());
    socket.once("close", () => {
      open.delete(socket);
      busy.delete(socket);
    });
  });
  server.on("request", (request, response) => {
    const socket = request.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    socket.setTimeout(0);
    response.once("close", () => {
      const left = (busy.get(socket) ?? 1) - 1;
      if (left > 0) busy.set(socket, left);
      else {
        busy.delete(socket);
        if (!socket.destroyed) socket.setTimeout(limits.idleMs);
      }
    });
  });
  // EMFILE, ENFILE, ECONNABORTED on accept: libuv retries; without a listener Node would throw and end the daemon.
  server.on("error", (error) => reportSurvivable("server.http", "accept a connection", error));
}
