import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ServiceEvent } from "../../src/contract/types.js";
import { IMAGES, isPidAlive, nextEvent, orchestratorPerSuite, testEnvironment, until, untilAllOnline } from "../helpers.js";

function ask(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => (data += chunk));
    socket.on("end", () => resolve(data.trim()));
    socket.on("error", reject);
  });
}

const server = (scale: number, env: Record<string, string> = {}) => ({
  image: "server.mjs",
  scale,
  ports: [{ name: "http" }],
  args: (a: { listenAddrs: Record<string, string>; processIndex: number }) => [a.listenAddrs.http!, String(a.processIndex)],
  env,
});

/** Connects until the process answers: a socket appears only once the server listens. */
async function askWhenListening(path: string): Promise<string> {
  return until(() => (existsSync(path) ? ask(path).catch(() => null) : null), `an answer on ${path}`).then(
    async (p) => (await p) ?? askWhenListening(path),
  );
}

describe("ensureService on real processes", () => {
  const suite = orchestratorPerSuite("lifecycle");
  const { env } = suite;

  it("memoizes namespaces", () => {
    assert.equal(suite.orchestrator.namespace("default"), suite.orchestrator.namespace("default"));
    assert.notEqual(suite.orchestrator.namespace("default"), suite.orchestrator.namespace("other"));
  });

  it("runs each process with its listen address, and the handle reports where they listen", async () => {
    const ns = suite.orchestrator.namespace("web");
    const events = ns.watchServices();
    const service = await ns.ensureService("api", server(2, { GREETING: "hi" }));
    const online = await untilAllOnline(events, "api", 2);
    const addresses = service.addresses("http");
    assert.deepEqual(addresses, [join(env.config.stateDir!, "web-api", "http-0"), join(env.config.stateDir!, "web-api", "http-1")]);
    for (const [i, address] of addresses.entries()) {
      assert.equal(await askWhenListening(address), `hi ${online[i]!.pid} ${i}`);
    }
    assert.throws(() => service.addresses("grpc"), /no port named "grpc"/);
    await events.return!();
  });

  it("treats the same config as a no-op and a new scale as adding or removing the highest processes only", async () => {
    const ns = suite.orchestrator.namespace("scale");
    const events = ns.watchServices();
    await ns.ensureService("s", { image: "sleeper", scale: 2 });
    const first = await untilAllOnline(events, "s", 2);
    const seen: ServiceEvent[] = [];
    await ns.ensureService("s", { image: "sleeper", scale: 2 });
    await ns.ensureService("s", { image: "sleeper", scale: 3 });
    const third = await nextEvent(events, (e) => e.processId === 2 && e.status === "online", { seen });
    assert.ok(
      seen.every((e) => e.processId === 2),
      `only process 2 changes on scale-up, saw ${JSON.stringify(seen)}`,
    );
    seen.length = 0;
    await ns.ensureService("s", { image: "sleeper", scale: 1 });
    assert.equal(isPidAlive(third.pid!), false);
    assert.equal(isPidAlive(first[1]!.pid!), false);
    assert.equal(isPidAlive(first[0]!.pid!), true, "process 0 is untouched by scale changes");
    const runDir = join(env.config.stateDir!, "scale-s");
    assert.deepEqual(
      readdirSync(runDir).filter((f) => f.endsWith(".pid")),
      ["0.pid"],
    );
    await events.return!();
  });

  it("relaunches a process killed with SIGKILL and counts the restart", async () => {
    const ns = suite.orchestrator.namespace("relaunch");
    const events = ns.watchServices();
    await ns.ensureService("s", { image: "sleeper", scale: 1 });
    const [online] = await untilAllOnline(events, "s", 1);
    process.kill(online!.pid!, "SIGKILL");
    const offline = await nextEvent(events, (e) => e.status === "offline");
    assert.equal(offline.reason, "crashed");
    assert.equal(offline.signal, "SIGKILL");
    assert.equal(offline.pid, online!.pid);
    const again = await nextEvent(events, (e) => e.status === "online");
    assert.equal(again.restartCount, 1);
    assert.notEqual(again.pid, online!.pid);
    await events.return!();
  });

  it("rolls a changed config one process at a time, highest index first, each replacement online before the next", async () => {
    const ns = suite.orchestrator.namespace("roll");
    const events = ns.watchServices();
    const reporter = (greeting: string) => ({
      image: "env-reporter",
      scale: 3,
      env: { GREETING: greeting },
      args: (a: { processIndex: number }) => [join(env.root, `roll-${a.processIndex}`)],
    });
    await ns.ensureService("r", reporter("one"));
    const before = await untilAllOnline(events, "r", 3);
    await ns.ensureService("r", reporter("two"));
    // ensureService resolved: the roll is done. Replay what happened from the stream.
    const seen: ServiceEvent[] = [];
    await nextEvent(events, (e) => e.processId === 0 && e.status === "online", { seen });
    assert.deepEqual(
      seen.map((e) => `${e.processId}:${e.status}`),
      ["2:offline", "2:online", "1:offline", "1:online", "0:offline", "0:online"],
    );
    let online = 3;
    for (const event of seen) {
      online += event.status === "online" ? 1 : -1;
      assert.ok(online >= 2, "never fewer than 2 of 3 online during the roll");
    }
    for (const event of seen.filter((e) => e.status === "offline")) assert.equal(event.reason, "stopped");
    for (const event of seen.filter((e) => e.status === "online")) {
      assert.notEqual(event.pid, before[event.processId]!.pid, `process ${event.processId} was replaced`);
      const file = join(env.root, `roll-${event.processId}`);
      await until(() => existsSync(file) && readFileSync(file, "utf8") === "two", `process ${event.processId} to report the new env`);
    }
    await ns.ensureService("r", { ...reporter("two"), terminationGracePeriodMs: 5000 });
    const unchanged = await Promise.race([events.next(), new Promise((r) => setImmediate(() => r("none")))]);
    assert.equal(unchanged, "none", "a new grace period applies in place, without a restart");
    await events.return!();
  });

  it("drops a service: processes and their grandchildren gone, directories removed; dropping again is fine", async () => {
    const ns = suite.orchestrator.namespace("drop");
    const events = ns.watchServices();
    await ns.ensureService("f", { image: "forker", scale: 2, disk: true, args: (a) => [join(env.root, `grandchild-${a.processIndex}`)] });
    const online = await untilAllOnline(events, "f", 2);
    const grandchildren = await Promise.all(
      [0, 1].map((i) =>
        until(
          () => existsSync(join(env.root, `grandchild-${i}`)) && Number(readFileSync(join(env.root, `grandchild-${i}`), "utf8")),
          `grandchild ${i}`,
        ),
      ),
    );
    assert.ok(grandchildren.every(isPidAlive));
    assert.ok(existsSync(join(env.config.scratchDirectory, "drop-f")));
    await ns.dropService("f");
    for (const pid of [...online.map((e) => e.pid!), ...grandchildren])
      assert.equal(isPidAlive(pid), false, `pid ${pid} is gone after drop`);
    assert.equal(existsSync(join(env.config.stateDir!, "drop-f")), false);
    assert.equal(existsSync(join(env.config.scratchDirectory, "drop-f")), false);
    assert.deepEqual(await ns.listServices(), []);
    await ns.dropService("f");
    await ns.dropService("never-existed");
    await events.return!();
  });

  it("kills what a process left in its group when it exits, before relaunching it", async () => {
    const ns = suite.orchestrator.namespace("remnants");
    const events = ns.watchServices();
    const marker = join(env.root, "remnant-0");
    await ns.ensureService("f", { image: "forker", scale: 1, args: () => [marker] });
    const [online] = await untilAllOnline(events, "f", 1);
    const grandchild = await until(() => existsSync(marker) && Number(readFileSync(marker, "utf8")), "grandchild pid");
    process.kill(online!.pid!, "SIGKILL");
    await nextEvent(events, (e) => e.status === "offline");
    await until(() => !isPidAlive(grandchild), "the orphaned grandchild to be killed");
    await nextEvent(events, (e) => e.status === "online");
    await events.return!();
  });

  it("lists services per namespace without prefix ambiguity", async () => {
    await suite.orchestrator.namespace("a").ensureService("x", { image: "sleeper", scale: 1 });
    await suite.orchestrator.namespace("a-b").ensureService("y", { image: "sleeper", scale: 1 });
    assert.deepEqual(await suite.orchestrator.namespace("a").listServices(), ["x"]);
    assert.deepEqual(await suite.orchestrator.namespace("a-b").listServices(), ["y"]);
    // "a" + "b-y" would share the run directory of "a-b" + "y": refused, not merged.
    await assert.rejects(
      suite.orchestrator.namespace("a").ensureService("b-y", { image: "sleeper", scale: 1 }),
      /run directory of service "y" in namespace "a-b"/,
    );
    await suite.orchestrator.namespace("a").dropService("b-y");
    assert.deepEqual(
      await suite.orchestrator.namespace("a-b").listServices(),
      ["y"],
      "dropping a colliding id leaves the other service alone",
    );
  });

  it("falls back to a hashed socket path in the temp dir when the path is too long, and the process listens there", async () => {
    const longEnv = testEnvironment("long");
    try {
      const deep = join(longEnv.root, "state", "x".repeat(60), "y".repeat(30));
      const o = await longEnv.create({ stateDir: deep });
      const ns = o.namespace("n");
      const events = ns.watchServices();
      const service = await ns.ensureService("svc", server(1));
      const [address] = service.addresses("http");
      assert.ok(Buffer.byteLength(join(deep, "n-svc", "http-0")) > 107);
      assert.match(address!, /^\/.+\/[0-9a-f]{40}$/);
      assert.ok(Buffer.byteLength(address!) <= 107);
      const [online] = await untilAllOnline(events, "svc", 1);
      assert.equal(await askWhenListening(address!), `hello ${online!.pid} 0`);
      await ns.dropService("svc");
      assert.equal(existsSync(address!), false, "the hashed socket outside the run directory is removed on drop");
      await events.return!();
    } finally {
      await longEnv.cleanup();
    }
  });

  it("interpolates %N and %P:<port> in the command wrapper", async () => {
    const wrapped = testEnvironment("wrapper");
    try {
      const out = join(wrapped.root, "wrapper-args");
      const o = await wrapped.create({ commandWrapper: [join(IMAGES, "..", "wrapper.sh"), out, "%N", "%P:http", "%P:http-admin"] });
      const ns = o.namespace("w");
      const events = ns.watchServices();
      const service = await ns.ensureService("svc", { image: "sleeper", scale: 1, ports: [{ name: "http" }, { name: "http-admin" }] });
      await untilAllOnline(events, "svc", 1);
      const recorded = await until(() => existsSync(out) && readFileSync(out, "utf8"), "the wrapper to record its arguments");
      assert.deepEqual(recorded.trim().split("\n"), [
        "w-svc",
        service.addresses("http")[0],
        service.addresses("http-admin")[0],
        join(IMAGES, "sleeper"),
      ]);
      await events.return!();
    } finally {
      await wrapped.cleanup();
    }
  });
});
