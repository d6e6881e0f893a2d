import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ServiceAssignments } from "../../src/contract/types.js";
import { nextEvent, orchestratorPerSuite, untilAllOnline } from "../helpers.js";

function askTcp(address: string): Promise<string> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  return new Promise((resolve, reject) => {
    let data = "";
    connect({ host, port })
      .setEncoding("utf8")
      .on("data", (d) => (data += d))
      .on("end", () => resolve(data.trim()))
      .on("error", reject);
  });
}

const server = (greeting: string) => ({
  image: "server.mjs",
  scale: 2,
  ports: [{ name: "http" }],
  labels: { team: "core", "app.kubernetes.io/part-of": "shop" },
  env: { GREETING: greeting },
  args: (a: ServiceAssignments) => [a.listenAddrs.http!, String(a.processIndex)],
  readiness: { socket: "http", periodMs: 50 },
});

describe("TCP proxy, Prometheus discovery and secrets through the orchestrator", () => {
  const suite = orchestratorPerSuite("edge", (env) => ({
    tcpProxy: { listenAddr: "127.0.0.1", prometheusServiceDiscoveryDir: join(env.root, "sd") },
  }));
  const { env } = suite;
  const sdDir = () => join(env.root, "sd");

  it("gives each process a TCP address that reaches it, stable across its restarts and rolling changes", async () => {
    const ns = suite.orchestrator.namespace("edge");
    const events = ns.watchServices();
    const service = await ns.ensureService("web", server("hello"));
    const online = await untilAllOnline(events, "web", 2);
    const tcp = service.tcpAddresses("http");
    assert.equal(tcp.length, 2);
    for (const [i, address] of tcp.entries()) {
      assert.match(address, /^127\.0\.0\.1:\d+$/);
      assert.equal(await askTcp(address), `hello ${online[i]!.pid} ${i}`);
    }
    assert.throws(() => service.tcpAddresses("nope"), /no port named "nope"/);

    process.kill(online[1]!.pid!, "SIGKILL");
    await nextEvent(events, (e) => e.processId === 1 && e.status === "offline");
    const back = await nextEvent(events, (e) => e.processId === 1 && e.status === "online");
    assert.equal(await askTcp(tcp[1]!), `hello ${back.pid} 1`, "the same address reaches the relaunched process");

    const rolled = await ns.ensureService("web", server("hi"));
    assert.deepEqual(rolled.tcpAddresses("http"), tcp, "a rolling change keeps the addresses");
    const answer = await askTcp(tcp[0]!);
    assert.match(answer, /^hi \d+ 0$/);
    await events.return!();
  });

  it("writes the seed's file_sd labels after every ensure and removes the file when nothing is left", async () => {
    const ns = suite.orchestrator.namespace("edge");
    const file = join(sdDir(), "edge.json");
    const configs = JSON.parse(readFileSync(file, "utf8")) as { targets: string[]; labels: Record<string, string> }[];
    assert.equal(configs.length, 2);
    const service = await ns.ensureService("web", server("hi"));
    assert.deepEqual(
      configs.map((c) => c.targets[0]),
      service.tcpAddresses("http"),
    );
    assert.deepEqual(configs[1]!.labels, {
      mz_orchestrator_namespace: "edge",
      mz_orchestrator_service_id: "web",
      mz_orchestrator_port: "http",
      mz_orchestrator_ordinal: "1",
      mz_orchestrator_team: "core",
      mz_orchestrator_app_kubernetes_io_part_of: "shop",
    });
    await ns.ensureService("web", { ...server("hi"), scale: 1 });
    assert.equal((JSON.parse(readFileSync(file, "utf8")) as unknown[]).length, 1, "rewritten on scale-down");
    await ns.dropService("web");
    assert.equal(existsSync(file), false, "no targets, no file");
  });

  it("keeps secrets as 0600 files in a 0700 directory", async () => {
    const secrets = suite.orchestrator.secretsController();
    await secrets.ensure("db-password", new TextEncoder().encode("hunter2"));
    assert.equal(await secrets.reader().readString("db-password"), "hunter2");
    assert.deepEqual(await secrets.list(), ["db-password"]);
    assert.equal(statSync(join(env.config.secretsDir, "db-password")).mode & 0o777, 0o600);
    assert.equal(statSync(env.config.secretsDir).mode & 0o777, 0o700);
    await assert.rejects(secrets.ensure("../escape", new Uint8Array()), /secret id/);
    await secrets.delete("db-password");
    await secrets.delete("db-password");
    assert.deepEqual(await secrets.list(), []);
  });
});
