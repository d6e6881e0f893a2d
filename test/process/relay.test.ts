import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { relay, relayedSockets, type RelayTotals } from "../../src/process/relay.js";
import { readBytes, readToEnd } from "./socket-reads.js";

// relay() on its own: a front listener (TCP, or a Unix socket as the service
// address has) whose connections are relayed to a Unix-socket backend, all in
// this process, so each test can reach both ends and the relay's callbacks.

interface Relayed {
  /** The test's end of the connection (what a client holds). */
  client: Socket;
  /** The backend's accepted socket for it. */
  backend: Socket;
  /** What relay() was given for this connection (the shells, once taken over). */
  given: { client: Socket; backend: Socket };
  errors: NodeJS.ErrnoException[];
  totals: Promise<RelayTotals>;
}

interface Harness {
  /** Opens a client connection and resolves once relay() runs for it and the backend has accepted it. */
  open(options?: { allowHalfOpen?: boolean; beforeRelay?: (client: Socket, backend: Socket) => void }): Promise<Relayed>;
}

async function harness(t: TestContext, front: "tcp" | "unix" = "tcp"): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "corral-relay-"));
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket): Socket => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    return socket;
  };
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await rm(dir, { recursive: true, force: true });
  });

  const backendPath = join(dir, "backend.sock");
  const accepted: Socket[] = [];
  const waiting: ((socket: Socket) => void)[] = [];
  const backendServer = createServer({ allowHalfOpen: true }, (socket) => {
    track(socket);
    socket.on("error", () => {});
    const waiter = waiting.shift();
    if (waiter) waiter(socket);
    else accepted.push(socket);
  });
  servers.push(backendServer);
  backendServer.listen(backendPath);
  await once(backendServer, "listening");
  const nextBackend = (): Promise<Socket> => {
    const socket = accepted.shift();
    return socket ? Promise.resolve(socket) : new Promise((resolve) => waiting.push(resolve));
  };

  let beforeRelay: ((client: Socket, backend: Socket) => void) | undefined;
  const relays: ((relayed: Omit<Relayed, "client" | "backend">) => void)[] = [];
  const frontServer = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (client) => {
    track(client);
    client.on("error", () => {});
    const backend = track(connect({ path: backendPath, allowHalfOpen: true }));
    backend.on("error", () => {});
    backend.once("connect", () => {
      const errors: NodeJS.ErrnoException[] = [];
      let closed: (totals: RelayTotals) => void = () => {};
      const totals = new Promise<RelayTotals>((resolve) => (closed = resolve));
      beforeRelay?.(client, backend);
      relay(client, backend, (error) => errors.push(error), closed);
      relays.shift()?.({ given: { client, backend }, errors, totals });
    });
  });
  servers.push(frontServer);
  const frontPath = join(dir, "front.sock");
  if (front === "tcp") frontServer.listen(0, "127.0.0.1");
  else frontServer.listen(frontPath);
  await once(frontServer, "listening");
  const port = front === "tcp" ? (frontServer.address() as AddressInfo).port : 0;

  return {
    async open(options = {}) {
      beforeRelay = options.beforeRelay;
      const relayed = new Promise<Omit<Relayed, "client" | "backend">>((resolve) => relays.push(resolve));
      const allowHalfOpen = options.allowHalfOpen ?? false;
      const client = track(
        front === "tcp" ? connect({ host: "127.0.0.1", port, allowHalfOpen }) : connect({ path: frontPath, allowHalfOpen }),
      );
      const [rest, backend] = await Promise.all([relayed, nextBackend()]);
      return { client, backend, ...rest };
    },
  };
}

const sha = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

test(
  "bulk both ways at once, then small messages: every byte arrives in order, and onClosed counts them",
  { timeout: 30_000 },
  async (t) => {
    const h = await harness(t);
    const before = { ...relayedSockets };
    const c = await h.open();
    assert.equal(relayedSockets.takenOver - before.takenOver, 2, "both fresh sockets are read through relay's own buffers");
    const up = randomBytes(24 * 1024 * 1024);
    const down = randomBytes(20 * 1024 * 1024);
    const atBackend = readBytes(c.backend, up.length);
    const atClient = readBytes(c.client, down.length);
    c.client.write(up);
    c.backend.write(down);
    assert.equal(sha(await atBackend), sha(up));
    assert.equal(sha(await atClient), sha(down));
    // After a bulk phase the buffers shrink back; small messages still go through one by one.
    for (let i = 0; i < 40; i++) {
      const message = Buffer.from(`ping ${i}`);
      const echoed = readBytes(c.client, message.length);
      const got = readBytes(c.backend, message.length);
      c.client.write(message);
      const received = await got;
      assert.deepEqual(received, message);
      c.backend.write(received);
      assert.deepEqual(await echoed, message);
    }
    const clientEnd = readToEnd(c.client);
    const backendEnd = readToEnd(c.backend);
    c.client.end();
    await backendEnd;
    c.backend.end();
    await clientEnd;
    const totals = await c.totals;
    const small = 40 * Buffer.byteLength("ping 00") - 10; // "ping 0".."ping 9" are one byte shorter
    assert.deepEqual(totals, { sent: up.length + small, received: down.length + small });
    assert.deepEqual(c.errors, []);
  },
);

test("each direction half-closes on its own: a FIN from the client ends only the backend's read side", { timeout: 30_000 }, async (t) => {
  const h = await harness(t);
  const c = await h.open({ allowHalfOpen: true });
  const request = readToEnd(c.backend);
  c.client.end("question");
  assert.equal((await request).toString(), "question");
  // The backend can still answer at length after the client's FIN.
  const answer = randomBytes(8 * 1024 * 1024);
  const reply = readToEnd(c.client);
  c.backend.end(answer);
  assert.equal(sha(await reply), sha(answer));
  await c.totals;
  assert.deepEqual(c.errors, []);
});

test("and a FIN from the backend ends only the client's read side", { timeout: 30_000 }, async (t) => {
  const h = await harness(t);
  const c = await h.open({ allowHalfOpen: true });
  const greeting = readToEnd(c.client);
  c.backend.end("greeting");
  assert.equal((await greeting).toString(), "greeting");
  const late = randomBytes(4 * 1024 * 1024);
  const atBackend = readToEnd(c.backend);
  c.client.end(late);
  assert.equal(sha(await atBackend), sha(late));
  await c.totals;
});

test("a reset on either side destroys both and is reported once", { timeout: 30_000 }, async (t) => {
  const h = await harness(t);
  const a = await h.open();
  // The backend allows half-open connections: the relay's close reaches it as a FIN (seen while it reads).
  a.backend.resume();
  const backendClosed = once(a.backend, "end");
  a.client.resetAndDestroy();
  await backendClosed;
  await a.totals;
  assert.equal(a.errors.length, 1);
  assert.equal(a.errors[0]!.code, "ECONNRESET");

  const b = await h.open();
  b.client.resume();
  const clientClosed = once(b.client, "close");
  b.client.on("error", () => {});
  b.backend.destroy();
  await clientClosed;
  await b.totals;
});

test(
  "destroying what relay() was given (as a proxy's close() does) closes the connection, and its 'close' follows",
  { timeout: 30_000 },
  async (t) => {
    const h = await harness(t);
    const c = await h.open();
    c.client.write("x");
    assert.equal((await readBytes(c.backend, 1)).toString(), "x");
    c.client.resume();
    c.backend.resume();
    const closes = [once(c.client, "close"), once(c.backend, "end"), once(c.given.client, "close"), once(c.given.backend, "close")];
    c.given.client.destroy();
    await Promise.all(closes);
    await c.totals;
    assert.deepEqual(c.errors, []);
  },
);

test("a backend that does not read: the relay stops reading from the client instead of buffering", { timeout: 30_000 }, async (t) => {
  const h = await harness(t);
  const c = await h.open();
  c.backend.pause();
  const chunk = Buffer.alloc(1024 * 1024, 7);
  const total = 256 * 1024 * 1024;
  let written = 0;
  // Write until the client's own socket stays full: its kernel buffers, the proxy's and the
  // backend's are full and the relay has stopped reading.
  for (;;) {
    while (written < total && c.client.write(chunk)) written += chunk.length;
    if (written >= total) break;
    written += chunk.length;
    const drained = await Promise.race([once(c.client, "drain").then(() => true), timeout(1000)]);
    if (!drained) break;
  }
  const leftClient = c.client.bytesWritten - c.client.writableLength;
  t.diagnostic(`${leftClient} bytes left the client before it stalled`);
  assert.ok(written < total, `the client could write all ${total} bytes: nothing held it back`);
  assert.ok(leftClient < 32 * 1024 * 1024, `${leftClient} bytes left the client while the backend read nothing`);
  // Reading again lets everything through, in order.
  const all = readBytes(c.backend, written);
  const received = await all;
  assert.equal(received.length, written);
  assert.ok(received.every((byte) => byte === 7));
});

test("a Unix-socket front (the service address) is taken over too", { timeout: 30_000 }, async (t) => {
  const h = await harness(t, "unix");
  const before = { ...relayedSockets };
  const c = await h.open();
  assert.equal(relayedSockets.takenOver - before.takenOver, 2);
  const payload = randomBytes(4 * 1024 * 1024);
  const got = readToEnd(c.backend);
  c.client.end(payload);
  assert.equal(sha(await got), sha(payload));
});

test("sockets that were already read from are relayed as they are, with the same semantics", { timeout: 30_000 }, async (t) => {
  const h = await harness(t);
  const before = { ...relayedSockets };
  // A client someone resumed (flowing) cannot be taken over; neither can a backend with a queued write.
  const c = await h.open({
    allowHalfOpen: true,
    beforeRelay: (client) => {
      client.on("data", () => {});
      client.resume();
    },
  });
  assert.equal(relayedSockets.asIs - before.asIs, 1);
  const up = randomBytes(8 * 1024 * 1024);
  const atBackend = readToEnd(c.backend);
  c.client.end(up);
  assert.equal(sha(await atBackend), sha(up));
  const down = randomBytes(8 * 1024 * 1024);
  const atClient = readToEnd(c.client);
  c.backend.end(down);
  assert.equal(sha(await atClient), sha(down));
  const totals = await c.totals;
  assert.deepEqual(totals, { sent: up.length, received: down.length });
});

function timeout(ms: number): Promise<false> {
  return new Promise((resolve) => setTimeout(() => resolve(false), ms).unref());
}
