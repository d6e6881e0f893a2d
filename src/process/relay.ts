// Moving bytes between two connected sockets, both ways: what the per-process
// TCP proxy and the service address do with every connection once its backend
// has answered. Kept apart so the hot path can be tuned in one place.
import type { Socket } from "node:net";
import { pipeline } from "node:stream";

/** What one relayed connection moved, in bytes. */
export interface RelayTotals {
  /** From the client to the backend. */
  sent: number;
  /** From the backend to the client. */
  received: number;
}

/**
 * Relays `client` ⇄ `backend` with back-pressure. A FIN from either side ends
 * only the other side's write half (both sockets must allow half-open); an
 * error on either destroys both. `onError` hears the first error that was not
 * a plain close; `onClosed` hears, once both sockets are closed, what moved.
 */
export function relay(
  client: Socket,
  backend: Socket,
  onError: (error: NodeJS.ErrnoException) => void,
  onClosed?: (totals: RelayTotals) => void,
): void {
  let reported = false;
  const settle = (error: NodeJS.ErrnoException | null): void => {
    if (error === null || error === undefined) return;
    client.destroy();
    backend.destroy();
    if (reported) return;
    reported = true;
    if (error.code !== "ERR_STREAM_PREMATURE_CLOSE") onError(error);
  };
  pipeline(client, backend, settle);
  pipeline(backend, client, settle);
  if (onClosed) {
    let open = 2;
    const closed = (): void => {
      if (--open === 0) onClosed({ sent: client.bytesRead, received: backend.bytesRead });
    };
    client.once("close", closed);
    backend.once("close", closed);
  }
}
