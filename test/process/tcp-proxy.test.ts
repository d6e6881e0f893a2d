import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm, stat, unlink } from "node:fs/promises";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { formatAddress, isLoopbackAddress, TcpProxy } from "../../src/process/tcp-proxy.js";
import { readBytes, readToEnd } from "./socket-reads.js";

const ENDPOINT = fileURLToPath(new URL("../fixtures/proxy-endpoint/endpoint.mjs", import.meta.url));
const HOST = "127.0.0.1";

/** Everything a test started, torn down in reverse order whether the test passed or not. */
class Resources {
  readonly #teardown: (() => Promise<unknown> | unknown)[] = [];
  defer(fn: () => Promise<unknown> | unknown): void {
    this.#teardown.push(fn);
  }
  async release(): Promise<void> {
    for (const fn of this.#teardown.reverse()) {
      try {
        await fn();
      } catch {
        // keep tearing down the rest
      }
    }
  }
}

/**
 * Runs `fn` with a fresh temp dir and a Resources list, and releases both when `fn`
 * settles or, should the test time out first, from the test's after hook.
 */
async function scenario(t: TestContext, fn: (resources: Resources, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "corral-proxy-"));
  const resources = new Resources();
  let released: Promise<void> | undefined;
  const release = (): Promise<void> =>
    (released ??= (async () => {
      await resources.release();
      await rm(dir, { recursive: true, force: true });
    })());
  t.after(release);
  try {
    await fn(resources, dir);
  } finally {
    await release();
  }
}

interface Backend {
  server: Server;
  sockets: Set<Socket>;
  /** Resolves with each accepted connection's socket, in order. */
  nextConnection(): Promise<Socket>;
  close(): Promise<void>;
}

/** A Unix-socket server in this process; `handler` gets each connection. */
async function startBackend(resources: Resources, path: string, handler: (socket: Socket) => void = () => {}): Promise<Backend> {
  const sockets = new Set<Socket>();
  const waiting: ((socket: Socket) => void)[] = [];
  const accepted: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    handler(socket);
    const waiter = waiting.shift();
    if (waiter) waiter(socket);
    else accepted.push(socket);
  });
  server.listen(path);
  await once(server, "listening");
  const backend: Backend = {
    server,
    sockets,
    nextConnection: () => {
      const socket = accepted.shift();
      return socket ? Promise.resolve(socket) : new Promise((resolve) => waiting.push(resolve));
    },
    close: async () => {
      if (!server.listening) return;
      const closed = once(server, "close");
      server.close();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
  resources.defer(() => backend.close());
  return backend;
}

async function startProxy(resources: Resources, options: Parameters<typeof TcpProxy.listen>[0]): Promise<TcpProxy> {
  const proxy = await TcpProxy.listen(options);
  resources.defer(() => proxy.close());
  return proxy;
}

async function connectTcp(resources: Resources, port: number, options: { allowHalfOpen?: boolean } = {}): Promise<Socket> {
  const socket = connect({ host: HOST, port, allowHalfOpen: options.allowHalfOpen ?? false });
  resources.defer(() => socket.destroy());
  await once(socket, "connect");
  return socket;
}

interface CloseOutcome {
  ended: boolean;
  error: Error | undefined;
  hadError: boolean;
}

/** How a socket's life ended: a clean close has seen 'end', no error. */
function closeOutcome(socket: Socket): Promise<CloseOutcome> {
  return new Promise((resolve) => {
    let ended = false;
    let error: Error | undefined;
    socket.on("end", () => {
      ended = true;
    });
    socket.on("error", (e) => {
      error = e;
    });
    socket.resume();
    socket.once("close", (hadError: boolean) => resolve({ ended, error, hadError }));
  });
}

/** An echo server: every byte back, and a FIN back once the client's FIN arrived. */
function echo(socket: Socket): void {
  socket.pipe(socket);
}

async function roundTrip(resources: Resources, port: number, payload: Buffer): Promise<Buffer> {
  const client = await connectTcp(resources, port);
  const received = readToEnd(client);
  client.end(payload);
  return received;
}

interface Child {
  process: ChildProcess;
  /** Resolves with the child's stdout lines, one per call. */
  line(): Promise<string>;
}

function startChild(resources: Resources, args: string[]): Child {
  const child = spawn(process.execPath, [ENDPOINT, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  resources.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    }
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    process: child,
    line: async () => {
      const next = await lines.next();
      if (next.done) throw new Error(`child ${args.join(" ")} exited without output`);
      return next.value;
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

test("bytes flow both ways through the proxy", { timeout: 30_000 }, async (t) => {
  await scenario(t, async (resources, dir) => {
    const path = join(dir, "echo.sock");
    await startBackend(resources, path, echo);
    const proxy = await startProxy(resources, { host: HOST, socketPath: path });
    assert.equal(proxy.address, `${HOST}:${proxy.port}`);
    assert.ok(proxy.port > 0);

    const small = Buffer.from("hello through the proxy");
    assert.deepEqual(await roundTrip(resources, proxy.port, small), small);

    // Large enough to fill every buffer on the way, so backpressure has to work.
    const large = randomBytes(16 * 1024 * 1024);
    const echoed = await roundTrip(resources, proxy.port, large);
    assert.equal(echoed.length, large.length);
    assert.ok(echoed.equals(large));

    // Several interleaved exchanges on one connection.
    const client = await connectTcp(resources, proxy.port);
    for (let i = 0; i < 10; i++) {
      const message = Buffer.from(`message ${i}`);
      client.write(message);
      assert.deepEqual(await readBytes(client, message.length), message);
    }
    const closed = closeOutcome(client);
    client.end();
    const outcome = await closed;
    assert.equal(outcome.error, undefined);
    assert.ok(outcome.ended);
  });
});

test("half-close from the client: its FIN reaches the backend, which can still answer", { timeout: 30_000 }, async (t) => {
  await scenario(t, async (resources, dir) => {
    const path = join(dir, "b.sock");
    const backend = await startBackend(resources, path, (socket) => {
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      // Answer only after the client's FIN: proves the write half toward the client survived it.
      socket.on("end", () => socket.end(`got ${Buffer.concat(chunks).length} bytes: ${Buffer.concat(chunks).toString()}`));
    });
    const proxy = await startProxy(resources, { host: HOST, socketPath: path });
    const client = await connectTcp(resources, proxy.port);
    const reply = readToEnd(client);
    client.end("question");
    assert.equal((await reply).toString(), "got 8 bytes: question");
    assert.equal(backend.sockets.size <= 1, true);
  });
});

test("half-close from the backend: its FIN reaches the client, which can still send", { timeout: 30_000 }, async (t) => {
  await scenario(t, async (resources, dir) => {
    const path = join(dir, "b.sock");
    const backend = await startBackend(resources, path, (socket) => socket.end("greeting"));
    const proxy = await startProxy(resources, { host: HOST, socketPath: path });
    const client = await connectTcp(resources, proxy.port, { allowHalfOpen: true });
    const backendSide = await backend.nextConnection();
    const fromClient = readToEnd(backendSide);

    assert.equal((await readToEnd(client)).toString(), "greeting");
    // The backend has ended its half; the client's half is still open through the proxy.
    const late = randomBytes(256 * 1024);
    const closed = closeOutcome(client);
    client.end(late);
    assert.ok((await fromClient).equals(late));
    const outcome = await closed;
    assert.equal(outcome.error, undefined);
  });
});

test("a client that resets its connection takes the backend connection down with it", { timeout: 30_000 }, async (t) => {
  await scenario(t, async (resources, dir) => {
    const path = join(dir, "b.sock");
    const backend = await startBackend(resources, path, echo);
    const proxy = await startProxy(resources, { host: HOST, socketPath: path });
    const client = await connectTcp(resources, proxy.port);
    client.write("x");
    assert.equal((await readBytes(client, 1)).toString(), "x");
    const backendSide = await backend.nextConnection();
    const backendClosed = once(backendSide, "close");
    client.resetAndDestroy();
    await backendClosed;
  });
});

test("backend not listening: the client sees a clean close and the proxy keeps serving", { timeout: 30_000 }, async (t) => {
  await scenario(t, async (resources, dir) => {
    const path = join(dir, "later.sock");
    const errors: Error[] = [];
    const proxy = await startProxy(resources, { host: HOST, socketPath: path, onConnectionError: (e) => errors.push(e) });

    // No socket file at all (ENOENT), with and without data sent first.
    for (const payload of [undefined, randomBytes(64 * 1024)]) {
      const client = await connectTcp(resources, proxy.port);
      const outcome = closeOutcome(client);
      if (payload) client.write(payload);
      const { ended, error, hadError } = await outcome;
      assert.equal(error, undefined, `no error expected, got ${String(error)}`);
      assert.equal(hadError, false);
      assert.equal(ended, true);
    }
    assert.equal(errors.length, 2);
    assert.match(errors[0]!.message, /ENOENT/);

    // Once the backend listens the same proxy forwards again.
    await startBackend(resources, path, echo);
    assert.equal((await roundTrip(resources, proxy.port, Buffer.from("back"))).toString(), "back");
  });
});

test("backend restart: a crashed backend (stale socket) is survived and its successor is used", { timeout: 30_000 }, async (t) => {
  await scenario(t, async (resources, dir) => {
    const path = join(dir, "crash.sock");
    const errors: Error[] = [];
    const proxy = await startProxy(resources, { host: HOST, socketPath: path, onConnectionError: (e) => errors.push(e) });

    const sink = startChild(resources, ["sink", path]);
    assert.equal(await sink.line(), "ready");
    assert.equal((await roundTrip(resources, proxy.port, Buffer.alloc(1000, 1))).toString(), "1000\n");

    // A connection open when the backend dies is closed, not left hanging.
    const open = await connectTcp(resources, proxy.port);
    open.write("partial");
    const openClosed = closeOutcome(open);
    const exited = once(sink.process, "exit");
    sink.process.kill("SIGKILL");
    await exited;
    await openClosed;

    // SIGKILL leaves the socket file behind: connecting is refused (ECONNREFUSED).
    assert.ok((await stat(path)).isSocket());
    const refused = await connectTcp(resources, proxy.port);
    const outcome = await closeOutcome(refused);
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.ended, true);
    assert.ok(
      errors.some((e) => /ECONNREFUSED/.test(e.message)),
      errors.map((e) => e.message).join("; "),
    );

    // The restarted backend replaces the stale socket; the proxy, unchanged, reaches it.
    await unlink(path);
    await startBackend(resources, path, echo);
    assert.equal((await roundTrip(resources, proxy.port, Buffer.from("again"))).toString(), "again");
  });
});

test("500 concurrent connections each do a ping-pong", { timeout: 60_000 }, async (t) => {
  await scenario(t, async (resources, dir) => {
    const path = join(dir, "many.sock");
    const count = 500;
    const pending: { socket: Socket; id: string }[] = [];
    // eslint-disable-next-line prefer-const -- the backend's handler reads it before it is assigned
    let proxy: TcpProxy | undefined;
    let connectionsAtReply = -1;
    // The backend holds every answer until all 500 pings have arrived, so all
    // 500 connections are provably open through the proxy at the same time.
    await startBackend(resources, path, (socket) => {
      let buffered = "";
      socket.setEncoding("utf8");
      socket.on("data", (data: string) => {
        buffered += data;
        const newline = buffered.indexOf("\n");
        if (newline === -1) return;
        const id = buffered.slice(0, newline).replace(/^ping /, "");
        pending.push({ socket, id });
        if (pending.length === count) {
          connectionsAtReply = proxy?.connections ?? -1;
          for (const { socket: s, id: i } of pending) s.end(`pong ${i}\n`);
        }
      });
    });
    proxy = await startProxy(resources, { host: HOST, socketPath: path });
    const port = proxy.port;

    const replies = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const client = await connectTcp(resources, port);
        const reply = readToEnd(client);
        client.write(`ping ${i}\n`);
        const text = (await reply).toString();
        client.end();
        return text;
      }),
    );
    assert.equal(connectionsAtReply, count);
    replies.forEach((reply, i) => assert.equal(reply, `pong ${i}\n`));
  });
});

test("a backend with a full accept queue (EAGAIN) is retried until it accepts", { timeout: 30_000 }, async (t) => {
  await scenario(t, async (resources, dir) => {
    const path = join(dir, "busy.sock");
    const backend = startChild(resources, ["stalled-echo", path, "1"]);
    assert.equal(await backend.line(), "ready");
    let firstRetry!: () => void;
    const retried = new Promise<void>((resolve) => (firstRetry = resolve));
    const errors: Error[] = [];
    const retryErrors: Error[] = [];
    const proxy = await startProxy(resources, {
      host: HOST,
      socketPath: path,
      onConnectRetry: (error, attempt) => {
        retryErrors.push(error);
        if (attempt === 1) firstRetry();
      },
      onConnectionError: (e) => {
        errors.push(e);
        firstRetry(); // fail fast below rather than wait for a retry that will not come
      },
    });
    // The backend accepts nothing: a couple of connects fill its queue, the rest are refused with EAGAIN.
    const count = 20;
    const exchanges = Array.from({ length: count }, async (_, i) => {
      const client = await connectTcp(resources, proxy.port);
      const reply = readToEnd(client);
      client.end(`hello ${i}`);
      return (await reply).toString();
    });
    await retried;
    backend.process.stdin?.write("\n"); // let the backend accept again
    const replies = await Promise.all(exchanges);
    assert.deepEqual(errors, []);
    replies.forEach((reply, i) => assert.equal(reply, `hello ${i}`));
    assert.ok(retryErrors.length > 0 && retryErrors.every((e) => /EAGAIN/.test(e.message)));
  });
});

test("the port hint is used when free and an ephemeral port is used when it is taken", { timeout: 30_000 }, async (t) => {
  await scenario(t, async (resources, dir) => {
    const path = join(dir, "b.sock");
    await startBackend(resources, path, echo);

    const hint = await freePort();
    const first = await startProxy(resources, { host: HOST, portHint: hint, socketPath: path });
    assert.equal(first.port, hint);
    assert.equal(first.address, `${HOST}:${hint}`);

    // The hint is now taken by the first proxy: the second falls back and still works.
    const second = await startProxy(resources, { host: HOST, portHint: hint, socketPath: path });
    assert.notEqual(second.port, hint);
    assert.ok(second.port > 0);
    assert.equal((await roundTrip(resources, second.port, Buffer.from("fallback"))).toString(), "fallback");

    // Stable across restarts: once the first proxy is closed its port can be taken again at once.
    await first.close();
    const restarted = await startProxy(resources, { host: HOST, portHint: hint, socketPath: path });
    assert.equal(restarted.port, hint);
    assert.equal((await roundTrip(resources, hint, Buffer.from("stable"))).toString(), "stable");

    await assert.rejects(TcpProxy.listen({ host: HOST, portHint: 70000, socketPath: path }), /portHint/);
    await assert.rejects(TcpProxy.listen({ host: "", socketPath: path }), /host/);
  });
});

test("loopback listeners give no warning; non-loopback addresses are recognised", { timeout: 10_000 }, async (t) => {
  await scenario(t, async (resources, dir) => {
    const warnings: string[] = [];
    await startProxy(resources, { host: HOST, socketPath: join(dir, "b.sock"), onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
  });
  for (const address of ["127.0.0.1", "127.1.2.3", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost"]) {
    assert.equal(isLoopbackAddress(address), true, address);
  }
  for (const address of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "::ffff:10.0.0.1", "fe80::1", "example.com"]) {
    assert.equal(isLoopbackAddress(address), false, address);
  }
  assert.equal(formatAddress("127.0.0.1", 80), "127.0.0.1:80");
  assert.equal(formatAddress("::1", 80), "[::1]:80");
});

test("close() stops the listener and closes every open connection", { timeout: 30_000 }, async (t) => {
  await scenario(t, async (resources, dir) => {
    const path = join(dir, "b.sock");
    const backend = await startBackend(resources, path, echo);
    const proxy = await startProxy(resources, { host: HOST, socketPath: path });
    const clients = await Promise.all([1, 2, 3].map(() => connectTcp(resources, proxy.port)));
    // Make sure each connection reached the backend before closing.
    for (const client of clients) {
      client.write("x");
      assert.equal((await readBytes(client, 1)).toString(), "x");
    }
    const backendSides = await Promise.all(clients.map(() => backend.nextConnection()));
    const clientsClosed = clients.map((c) => once(c, "close"));
    const backendsClosed = backendSides.map((s) => once(s, "close"));
    await proxy.close();
    await Promise.all([...clientsClosed, ...backendsClosed]);
    assert.equal(proxy.connections, 0);
    await proxy.close(); // idempotent

    const refused = connect({ host: HOST, port: proxy.port });
    resources.defer(() => refused.destroy());
    const [error] = (await once(refused, "error")) as [NodeJS.ErrnoException];
    assert.equal(error.code, "ECONNREFUSED");
  });
});

async function measure(resources: Resources, target: string, bytes: number): Promise<number> {
  const sender = startChild(resources, ["send", target, String(bytes)]);
  const result = JSON.parse(await sender.line()) as { bytes: number; ms: number; acknowledged: number };
  assert.equal(result.acknowledged, bytes, "the sink received every byte");
  return result.ms;
}

test("throughput: proxy vs direct Unix socket (reported, not asserted)", { timeout: 120_000 }, async (t: TestContext) => {
  await scenario(t, async (resources, dir) => {
    const path = join(dir, "sink.sock");
    const sink = startChild(resources, ["sink", path]);
    assert.equal(await sink.line(), "ready");
    const proxy = await startProxy(resources, { host: HOST, socketPath: path });
    const bytes = 256 * 1024 * 1024;
    const mib = bytes / (1024 * 1024);

    // Alternate the two paths and keep the best of each, to damp noise from the shared machine.
    await measure(resources, `unix:${path}`, 16 * 1024 * 1024); // warm-up
    const direct: number[] = [];
    const proxied: number[] = [];
    for (let round = 0; round < 3; round++) {
      direct.push(await measure(resources, `unix:${path}`, bytes));
      proxied.push(await measure(resources, `tcp:${proxy.address}`, bytes));
    }
    const rate = (ms: number): string => `${((mib / ms) * 1000).toFixed(0)} MiB/s`;
    const bestDirect = Math.min(...direct);
    const bestProxied = Math.min(...proxied);
    t.diagnostic(
      `${mib} MiB, best of 3 (sender and sink in child processes, proxy in the test process): ` +
        `direct Unix socket ${rate(bestDirect)} (${bestDirect.toFixed(0)} ms), ` +
        `through the TCP proxy ${rate(bestProxied)} (${bestProxied.toFixed(0)} ms), ` +
        `proxy/direct ${(bestDirect / bestProxied).toFixed(2)}`,
    );
    t.diagnostic(
      `all runs (ms): direct ${direct.map((ms) => ms.toFixed(0)).join(", ")}; proxy ${proxied.map((ms) => ms.toFixed(0)).join(", ")}`,
    );
    sink.process.stdin?.end();
  });
});
