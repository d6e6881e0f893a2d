// The service address of the process backend: one Unix socket per service and
// port (and a TCP listener where the port is exposed) that balances new
// connections over the ready processes, retries a refusal elsewhere, and
// drains a process before it is stopped. Real processes, real sockets.
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { request, Agent } from "node:http";
import { describe, it } from "node:test";
import type { ServiceAssignments, ServiceConfig } from "../../src/contract/types.js";
import { nextEvent, orchestratorPerSuite, until, untilAllOnline } from "../helpers.js";

/** GET / over a Unix socket or a "host:port"; resolves with the body. */
function get(address: string, agent?: Agent): Promise<string> {
  const target = address.startsWith("/")
    ? { socketPath: address }
    : { host: address.slice(0, address.lastIndexOf(":")), port: Number(address.slice(address.lastIndexOf(":") + 1)) };
  return new Promise((resolve, reject) => {
    request({ ...target, path: "/", agent: agent ?? false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => (response.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`HTTP ${response.statusCode}`))));
    })
      .on("error", reject)
      .end();
  });
}

const web = (overrides: Partial<ServiceConfig> = {}, refuse?: number): ServiceConfig => ({
  image: "http-graceful.mjs",
  scale: 3,
  ports: [{ name: "http" }],
  args: (a: ServiceAssignments) => [a.listenAddrs.http!, String(a.processIndex), ...(a.processIndex === refuse ? ["--refuse"] : [])],
  readiness: { socket: "http", periodMs: 50 },
  ...overrides,
});

/** The pids answering `count` requests in a row through the address. */
async function answerers(address: string, count: number): Promise<string[]> {
  const pids: string[] = [];
  for (let i = 0; i < count; i++) pids.push((await get(address)).split(" ")[1]!);
  return pids;
}

describe("service address", () => {
  const suite = orchestratorPerSuite("svcaddr");

  it("is one Unix socket per port, 0600, balancing round-robin over the ready processes; %A gives it to the processes", async (t) => {
    const ns = suite.orchestrator.namespace("a");
    t.after(() => ns.dropService("web"));
    const events = ns.watchServices();
    const service = await ns.ensureService("web", web({ envTemplate: (a) => ({ SERVICE_ADDRESS: a.serviceAddrs!.http! }) }));
    const online = await untilAllOnline(events, "web", 3);
    await events.return!();
    const address = service.serviceAddress("http");
    assert.match(address, /\/a-web\/http$|^\/tmp\/[0-9a-f]{40}$/, "<runDir>/<port>, or hashed when too long");
    const environ = readFileSync(`/proc/${online[0]!.pid}/environ`, "utf8").split("\0");
    assert.ok(environ.includes(`SERVICE_ADDRESS=${address}`), "the processes are given the service address");
    assert.equal(statSync(address).mode & 0o777, 0o600);
    const pids = await answerers(address, 6);
    const expected = online.map((e) => String(e.pid));
    assert.deepEqual(pids.slice(0, 3).sort(), [...expected].sort(), "each ready process gets one of three connections");
    assert.deepEqual(pids.slice(3), pids.slice(0, 3), "round-robin: the same order again");
    assert.throws(() => service.serviceAddress("nope"), /no port named "nope"/);
    assert.throws(() => service.serviceTcpAddress("http"), /must be exposed for a TCP service address/);
  });

  it("never hands a connection to a process that is not ready, and retries a refusal on another process", async (t) => {
    const ns = suite.orchestrator.namespace("b");
    t.after(() => ns.dropService("web"));
    const events = ns.watchServices();
    // No probe: process 1 is online as soon as it runs, but its socket refuses every connection.
    const { readiness: _probe, ...noProbe } = web({}, 1);
    const service = await ns.ensureService("web", { ...noProbe, scale: 2 });
    const [zero] = await untilAllOnline(events, "web", 2);
    await events.return!();
    const pids = await answerers(service.serviceAddress("http"), 10);
    assert.deepEqual(new Set(pids), new Set([String(zero!.pid)]), "every request is answered, by process 0");
    const stats = [...ns.edgeStats()].find((s) => s.serviceId === "web")!;
    assert.ok(stats.retries >= 1, `a refusal was retried (${JSON.stringify(stats)})`);
    assert.equal(stats.failed, 0);
  });

  it("least-connections sends new connections to the process with the fewest open ones", async (t) => {
    const ns = suite.orchestrator.namespace("e");
    t.after(() => ns.dropService("web"));
    const events = ns.watchServices();
    const service = await ns.ensureService("web", web({ scale: 2, balance: "least-connections" }));
    const online = await untilAllOnline(events, "web", 2);
    await events.return!();
    const address = service.serviceAddress("http");
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const held = Number((await get(address, agent)).split(" ")[2]);
    // Each of these has ended (at the balancer too) before the next: the held process keeps one open connection, the other none.
    const active = () => ns.edgeStats().find((s) => s.serviceId === "web")!.active;
    const pids: string[] = [];
    for (let i = 0; i < 4; i++) {
      await until(() => active() === 1, "only the held connection open");
      pids.push((await get(address)).split(" ")[1]!);
    }
    assert.deepEqual(new Set(pids), new Set([String(online[1 - held]!.pid)]));
  });

  it("has a TCP listener only for an exposed port, on loopback and its portHint", async (t) => {
    const ns = suite.orchestrator.namespace("c");
    t.after(() => ns.dropService("web"));
    const hint = 20_000 + (process.pid % 20_000);
    const service = await ns.ensureService(
      "web",
      web({ scale: 2, ports: [{ name: "http", expose: true, portHint: hint }, { name: "admin" }] }),
    );
    const tcp = service.serviceTcpAddress("http");
    assert.match(tcp, /^127\.0\.0\.1:\d+$/);
    if (tcp !== `127.0.0.1:${hint}`) t.diagnostic(`port ${hint} was taken; got ${tcp}`);
    assert.match(await get(tcp), /^hello \d+ [01]$/);
    assert.throws(() => service.serviceTcpAddress("admin"), /admin of service "web" is not/);
    assert.throws(() => service.tcpAddresses("http"), /tcpProxy/, "no per-process proxy without tcpProxy");
  });

  it("drains a process before stopping it: its open connection keeps working, new ones go elsewhere, and it stops once that ends", async (t) => {
    const ns = suite.orchestrator.namespace("d");
    t.after(() => ns.dropService("web"));
    const events = ns.watchServices();
    const service = await ns.ensureService("web", web({ scale: 2, drainMs: 60_000 }));
    const online = await untilAllOnline(events, "web", 2);
    const address = service.serviceAddress("http");
    // A keep-alive connection: find which process it reached.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const first = (await get(address, agent)).split(" ");
    const index = Number(first[2]);
    const held = online[index]!;
    const restarted = ns.restartProcess("web", index);
    await until(
      () => ns.processStatuses().find((s) => s.serviceId === "web")?.processes[index]?.reason === "stopping",
      "the process shows as stopping while it drains",
    );
    // New connections go to the other process only; the held one still reaches its process.
    const others = await answerers(address, 4);
    assert.deepEqual(new Set(others), new Set([String(online[1 - index]!.pid)]));
    assert.equal((await get(address, agent)).split(" ")[1], String(held.pid), "the open connection still works");
    assert.ok(existsSync(`/proc/${held.pid}`), "not stopped while its connection is open");
    agent.destroy();
    await restarted;
    const replaced = await nextEvent(events, (e) => e.processId === index && e.status === "online" && e.pid !== held.pid);
    await events.return!();
    const stats = [...ns.edgeStats()].find((s) => s.serviceId === "web")!;
    assert.equal(stats.drained, 1);
    assert.ok(replaced.pid);
  });
});
