// Stable TCP addresses: the proxy ports a process got are remembered in the
// state dir and had again by a later orchestrator on it (adopting or not); a
// port someone else took meanwhile is replaced by a new one, with a warning.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { type Server, createServer } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ServiceConfig } from "../../src/contract/types.js";
import type { ProcessOrchestrator } from "../../src/process/orchestrator.js";
import { nextEvent, testEnvironment, untilAllOnline } from "../helpers.js";

const tcpProxy = { listenAddr: "127.0.0.1" };
const config: ServiceConfig = {
  image: "server.mjs",
  args: (a) => [a.listenAddrs.http!, String(a.processIndex)],
  ports: [{ name: "http" }, { name: "admin" }],
  scale: 2,
  readiness: { socket: "http", periodMs: 20 },
};

async function ensureOnline(orchestrator: ProcessOrchestrator): Promise<string[][]> {
  const ns = orchestrator.namespace("default");
  const events = ns.watchServices();
  const service = await ns.ensureService("web", config);
  await untilAllOnline(events, "web", 2);
  events.return?.();
  return [service.tcpAddresses("http"), service.tcpAddresses("admin"), [service.serviceTcpAddress("http")]];
}

function occupy(address: string): Promise<Server> {
  const [host, port] = address.split(":") as [string, string];
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host, port: Number(port), exclusive: true }, () => resolve(server));
  });
}

describe("TCP proxy ports across orchestrators", { timeout: 120_000 }, () => {
  it("a new orchestrator on the same state dir listens where the last one did, adopting or starting afresh", async (t) => {
    const env = testEnvironment("tcp-ports");
    t.after(() => env.cleanup());
    const initial = await env.create({ tcpProxy });
    const first = await ensureOnline(initial);
    assert.equal(new Set(first.flat()).size, 5, "one port per process and port, and the service address of http");
    const remembered = JSON.parse(readFileSync(join(env.config.stateDir!, "tcp-ports.json"), "utf8")) as { ports: Record<string, number> };
    assert.deepEqual(Object.keys(remembered.ports).sort(), [
      // -1: the service address of each port, over TCP as tcpProxy asks.
      "default/web/-1/admin",
      "default/web/-1/http",
      "default/web/0/admin",
      "default/web/0/http",
      "default/web/1/admin",
      "default/web/1/http",
    ]);
    await initial.close({ leaveRunning: true });

    const orchestrator = await env.create({ tcpProxy });
    assert.deepEqual(await ensureOnline(orchestrator), first, "adopted processes keep their addresses");
    await orchestrator.close(); // stops them: the next one starts new processes

    const fresh = await env.create({ tcpProxy });
    assert.deepEqual(await ensureOnline(fresh), first, "new processes of the same service get them too");
  });

  it("a remembered port taken by someone else is replaced by a new one, and the warning says so", async (t) => {
    const env = testEnvironment("tcp-ports-taken");
    const squatters: Server[] = [];
    t.after(async () => {
      for (const squatter of squatters) squatter.close();
      await env.cleanup();
    });
    const first = await env.create({ tcpProxy });
    const [http] = await ensureOnline(first);
    await first.close({ leaveRunning: true });
    squatters.push(await occupy(http![1]!));

    const second = await env.create({ tcpProxy });
    const ns = second.namespace("default");
    const events = ns.watchServices();
    const ensured = ns.ensureService("web", config);
    const warning = await nextEvent(events, (e) => e.serviceId === "web" && e.warning !== undefined);
    const service = await ensured;
    events.return?.();
    assert.equal(warning.processId, 1);
    const moved = service.tcpAddresses("http");
    assert.equal(moved[0], http![0], "process 0's port was free: kept");
    assert.notEqual(moved[1], http![1]);
    assert.match(
      warning.warning!,
      new RegExp(`port http: the port it had before, ${http![1]!.split(":")[1]}, is taken by someone else; it listens on ${moved[1]} now`),
    );
    const remembered = JSON.parse(readFileSync(join(env.config.stateDir!, "tcp-ports.json"), "utf8")) as { ports: Record<string, number> };
    assert.equal(`127.0.0.1:${remembered.ports["default/web/1/http"]}`, moved[1], "the new port is the one remembered now");
  });
});
