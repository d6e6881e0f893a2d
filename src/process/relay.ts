// Moving bytes between two connected sockets, both ways: what the per-process
// TCP proxy and the service address do with every connection once its backend
// has answered. Kept apart so the hot path can be tuned in one place.
//
// Why it is not stream.pipeline: measured on the 2-core bench machine in a
// process that has loaded corral's package root (the daemon's heap), a relay
// whose reads allocate a fresh 64 KiB buffer each (what every 'data' event
// costs) spent 1.1-1.5 CPU-s per GiB; reading into a buffer that is reused
// (net's `onread` option) cost 0.6-0.7, and letting that buffer grow to 4 MiB
// for a bulk transfer 0.3, at twice the throughput. Node offers `onread` only
// to sockets it creates for `connect()`, not to the ones a server accepts, so
// relay() re-wraps each socket's handle in a net.Socket of its own that has it
// (`takeOver`), when that can be done safely, and falls back to plain 'data'
// events when it cannot.
import { Socket, type OnReadOpts, type SocketConstructorOpts } from "node:net";

/** What one relayed connection moved, in bytes. */
export interface RelayTotals {
  /** From the client to the backend. */
  sent: number;
  /** From the backend to the client. */
  received: number;
}

/**
 * Read buffer sizes a direction climbs, one step each time a read fills its
 * buffer: most connections move small messages (and an idle one keeps its
 * buffer), a bulk transfer drains the kernel's queue in few large reads. On
 * the bench machine 4 MiB reads cost half the CPU per GiB of 256 KiB ones.
 */
const READ_SIZES = [16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];
/** Buffers larger than this are drawn from one budget shared by every relay in the process. */
const SHARED_ABOVE = 256 * 1024;
/** So a thousand bulk connections cost 256 KiB each beyond the first few, not 4 MiB. */
const SHARED_BUDGET = 32 * 1024 * 1024;
/** Reads in a row that used less than a sixteenth of the buffer before it shrinks back to the first size. */
const SHRINK_AFTER = 8;
let sharedInUse = 0;

/** Sockets relay() was given, by how it read them: a regression to "as is" costs twice the CPU per byte. */
export const relayedSockets = { takenOver: 0, asIs: 0 };

/**
 * Relays `client` ⇄ `backend` with back-pressure. A FIN from either side ends
 * only the other side's write half; an error on either destroys both.
 * `onError` hears the first error; `onClosed` hears, once both sockets are
 * closed, what moved.
 *
 * Both sockets should be fresh: not yet read from (a server's socket accepted
 * with `pauseOnConnect`, a `connect()`ed one from its 'connect' event) and
 * with nothing queued to write. Such a socket is taken over: its handle moves
 * to a socket of relay's own that reads into a reused buffer, and the one
 * passed in is left as a shell whose `destroy()` ends the relayed connection
 * and whose 'close' comes when the connection has closed; its address and
 * byte counters are no longer kept (use `onClosed`). A socket that cannot be
 * taken over is relayed as it is, through its 'data' events.
 */
export function relay(
  client: Socket,
  backend: Socket,
  onError: (error: NodeJS.ErrnoException) => void,
  onClosed?: (totals: RelayTotals) => void,
): void {
  const up = new Direction(); // client → backend
  const down = new Direction(); // backend → client
  const clientSide = takeOver(client, up) ?? client;
  const backendSide = takeOver(backend, down) ?? backend;
  relayedSockets[clientSide === client ? "asIs" : "takenOver"]++;
  relayedSockets[backendSide === backend ? "asIs" : "takenOver"]++;

  let failed = false;
  const fail = (error: NodeJS.ErrnoException): void => {
    clientSide.destroy();
    backendSide.destroy();
    if (failed) return;
    failed = true;
    onError(error);
  };
  clientSide.on("error", fail);
  backendSide.on("error", fail);

  let open = 2;
  const shellClosed = (): void => {
    if (--open === 0) onClosed?.({ sent: clientSide.bytesRead, received: backendSide.bytesRead });
  };
  watchClose(client, clientSide, backendSide, shellClosed);
  watchClose(backend, backendSide, clientSide, shellClosed);

  if (clientSide.destroyed || backendSide.destroyed) {
    clientSide.destroy();
    backendSide.destroy();
    return;
  }
  up.start(clientSide, backendSide);
  down.start(backendSide, clientSide);
}

/**
 * Ties the caller's `shell` to the socket that does the work (`side`, the same
 * object when not taken over) and to the other side: a socket that closes
 * before both its halves were done takes the other side down, as pipeline
 * did; a clean close leaves the other side to finish writing what it holds.
 */
function watchClose(shell: Socket, side: Socket, other: Socket, closed: () => void): void {
  side.once("close", () => {
    if (!(side.readableEnded && side.writableFinished)) other.destroy();
    if (shell !== side) shell.destroy();
  });
  if (shell !== side) shell.once("close", () => side.destroy());
  shell.once("close", closed);
}

/** One direction of a relayed connection: reads from `src` go to `dst`. */
class Direction {
  #src: Socket | undefined;
  #dst: Socket | undefined;
  /** Where the next read lands (a direction that was taken over). */
  #buffer: Buffer | undefined;
  #level = 0;
  /** Bytes of the shared budget this direction's buffer holds. */
  #shared = 0;
  #smallReads = 0;
  /** Writes whose callback has not run yet. */
  #writes = 0;
  /** Reading stopped until every write is done (the last one still points into the buffer). */
  #waiting = false;
  /** Reading stopped until `dst` drains (a direction that was not taken over). */
  #paused = false;

  /** For `new Socket({ onread })`: reads land in a buffer of ours and are written on at once. */
  readonly onread: OnReadOpts = {
    buffer: () => (this.#buffer ??= Buffer.allocUnsafe(READ_SIZES[0]!)),
    callback: (length, buffer) => this.#onRead(length, buffer),
  };

  /** Starts moving bytes; `src` has been paused until now. */
  start(src: Socket, dst: Socket): void {
    this.#src = src;
    this.#dst = dst;
    src.once("end", () => dst.end());
    src.once("close", () => this.#resize(0, false));
    if (!(src instanceof RelaySocket)) {
      // Not taken over: Node's own reads, one allocated chunk per 'data' event.
      src.on("data", (chunk: Buffer) => {
        if (!dst.write(chunk)) {
          this.#paused = true;
          src.pause();
        }
      });
      dst.on("drain", () => {
        if (!this.#paused) return;
        this.#paused = false;
        src.resume();
      });
    }
    src.resume();
  }

  #onRead(length: number, buffer: Uint8Array): boolean {
    const dst = this.#dst!;
    this.#writes++;
    dst.write(buffer.subarray(0, length), this.#written);
    if (length === buffer.length) {
      this.#smallReads = 0;
      if (this.#level < READ_SIZES.length - 1) this.#resize(this.#level + 1, true);
    } else if (this.#level > 0 && length < buffer.length >>> 4 && ++this.#smallReads >= SHRINK_AFTER) {
      this.#smallReads = 0;
      this.#resize(0, true);
    }
    // Written through to the kernel: the buffer is free for the next read.
    if (dst.writableLength === 0) return true;
    // Queued (dst is slow, or back-pressure): the write still points into the
    // buffer, so reading stops (returning false pauses src) until it is done.
    // This is also the back-pressure: at most one read is held per direction.
    this.#waiting = true;
    return false;
  }

  readonly #written = (): void => {
    if (--this.#writes > 0 || !this.#waiting) return;
    this.#waiting = false;
    this.#src!.resume();
  };

  /** The next reads land in a buffer of READ_SIZES[level]; a held write keeps the old one alive until it is done. */
  #resize(level: number, allocate: boolean): void {
    const size = READ_SIZES[level]!;
    const shared = size > SHARED_ABOVE ? size : 0;
    if (shared > this.#shared && sharedInUse - this.#shared + shared > SHARED_BUDGET) return;
    sharedInUse += shared - this.#shared;
    this.#shared = shared;
    this.#level = level;
    this.#buffer = allocate ? Buffer.allocUnsafe(size) : undefined;
  }
}

/** A socket relay() made around a taken-over handle. */
class RelaySocket extends Socket {}

/** The parts of a libuv stream handle (TCP or Pipe) that taking one over relies on. */
interface StreamHandle {
  /** net's own flag: true once the socket has asked libuv for reads. */
  reading?: unknown;
  readStop(): number;
  readStart(): number;
  useUserBuffer(buffer: Uint8Array): void;
}

function isStreamHandle(handle: unknown): handle is StreamHandle {
  return (
    typeof handle === "object" &&
    handle !== null &&
    typeof Reflect.get(handle, "readStop") === "function" &&
    typeof Reflect.get(handle, "readStart") === "function" &&
    typeof Reflect.get(handle, "useUserBuffer") === "function"
  );
}

/** Options net.Socket takes (as net's own server does for every accepted socket) beyond its typed ones. */
interface HandleSocketOptions extends SocketConstructorOpts {
  handle: StreamHandle;
  pauseOnCreate: boolean;
  onread: OnReadOpts;
}

/**
 * Moves `socket`'s handle to a RelaySocket that reads through `direction`'s
 * buffer, leaving `socket` without a handle; undefined (nothing changed) when
 * the socket has started reading, has writes queued, is not connected, or is
 * not a libuv stream as this Node lays them out. The handle is what net's own
 * server hands each accepted socket (`new Socket({ handle, pauseOnCreate })`),
 * so what is relied on beyond the documented API is that and `_handle`.
 */
function takeOver(socket: Socket, direction: Direction): Socket | undefined {
  if (socket instanceof RelaySocket) return undefined;
  const handle: unknown = Reflect.get(socket, "_handle");
  if (!isStreamHandle(handle)) return undefined;
  if (socket.destroyed || socket.connecting || socket.readableLength > 0 || socket.writableLength > 0) return undefined;
  if (socket.readableEnded || socket.writableEnded || socket.readableFlowing === true) return undefined;
  // A connect()ed socket starts reading once its 'connect' listeners have run, so
  // relay() must be called from one of them; a socket that did read may have
  // taken in an EOF its stream has not shown yet.
  if (handle.reading === true) return undefined;
  if (!Reflect.set(socket, "_handle", null)) return undefined;
  const options: HandleSocketOptions = {
    handle,
    allowHalfOpen: true,
    pauseOnCreate: true,
    readable: true,
    writable: true,
    onread: direction.onread,
  };
  try {
    return new RelaySocket(options);
  } catch {
    // A Node whose net.Socket no longer takes a handle this way: relay the socket as it is.
    Reflect.set(socket, "_handle", handle);
    return undefined;
  }
}
