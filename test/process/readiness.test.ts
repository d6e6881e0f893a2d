import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { LogLine, ServiceAssignments, ServiceEvent } from "../../src/contract/types.js";
import { nextEvent, orchestratorPerSuite, untilAllOnline } from "../helpers.js";

const listenArgs = (delayMs: number) => (a: ServiceAssignments) => [a.listenAddrs.app!, String(delayMs)];

describe("readiness probes", () => {
  const suite = orchestratorPerSuite("ready", { rolloutTimeoutMs: 3000 });
  const { env } = suite;

  it("socket: a process that listens only after 1 s is online only then", async () => {
    const ns = suite.orchestrator.namespace("sock");
    const events = ns.watchServices();
    const service = await ns.ensureService("slow", {
      image: "slow-listener.mjs",
      scale: 1,
      ports: [{ name: "app" }],
      args: listenArgs(1000),
      readiness: { socket: "app" },
    });
    const starting = await nextEvent(events, (e) => e.serviceId === "slow");
    assert.equal(starting.status, "offline");
    assert.equal(starting.reason, "starting");
    assert.equal(typeof starting.pid, "number", "the process runs while it is starting");
    const online = await nextEvent(events, (e) => e.status === "online");
    assert.ok(existsSync(service.addresses("app")[0]!), "it is online only once it listens");
    // The program says "listening" once listen() has returned, so the probe may
    // connect before that line is read: the line is awaited, not expected already.
    const controller = new AbortController();
    let listening: LogLine | undefined;
    for await (const line of ns.logs("slow", 0, { follow: true, signal: controller.signal })) {
      listening = line;
      break;
    }
    controller.abort();
    assert.equal(listening?.line, "listening", "its first line is the one it prints once it listens");
    assert.ok(online.time.getTime() - starting.time.getTime() >= 1000, "online not before its one-second start");
    await events.return!();
  });

  it("http: goes offline after failureThreshold failures in a row, online again when it passes", async () => {
    const ns = suite.orchestrator.namespace("http");
    const events = ns.watchServices();
    const sick = join(env.root, "sick");
    await ns.ensureService("h", {
      image: "http-health.mjs",
      scale: 1,
      ports: [{ name: "web" }],
      args: (a) => [a.listenAddrs.web!, sick],
      readiness: { http: { port: "web", path: "/ready" }, periodMs: 50, failureThreshold: 3 },
    });
    await untilAllOnline(events, "h", 1);
    writeFileSync(sick, "");
    const failed = await nextEvent(events, () => true);
    assert.equal(failed.status, "offline");
    assert.equal(failed.reason, "probe-failed");
    assert.equal(typeof failed.pid, "number", "a failed probe does not kill the process");
    rmSync(sick);
    const back = await nextEvent(events, () => true);
    assert.equal(back.status, "online");
    assert.equal(back.pid, failed.pid);
    assert.equal(back.restartCount, 0);
    await events.return!();
  });

  it("exec: online once the command succeeds", async () => {
    const ns = suite.orchestrator.namespace("exec");
    const events = ns.watchServices();
    const flag = join(env.root, "ready-flag");
    await ns.ensureService("e", { image: "sleeper", scale: 1, readiness: { exec: ["test", "-f", flag], periodMs: 50 } });
    await nextEvent(events, (e) => e.reason === "starting");
    writeFileSync(flag, "");
    // A failed probe before the flag was written may come first, as "starting" with its reason.
    const online = await nextEvent(events, (e) => e.status === "online" || e.reason !== "starting");
    assert.equal(online.status, "online");
    await events.return!();
  });

  it("a rolling change with a socket probe never has fewer than 2 of 3 processes online", async () => {
    const ns = suite.orchestrator.namespace("roll");
    const config = (greeting: string) => ({
      image: "slow-listener.mjs",
      scale: 3,
      ports: [{ name: "app" }],
      args: listenArgs(300),
      env: { GREETING: greeting },
      readiness: { socket: "app", periodMs: 50 },
    });
    const watch = ns.watchServices();
    await ns.ensureService("r", config("one"));
    await untilAllOnline(watch, "r", 3);
    const online = new Set([0, 1, 2]);
    let lowest = 3;
    const seen: ServiceEvent[] = [];
    const rolled = ns.ensureService("r", config("two"));
    await nextEvent(
      watch,
      (e) => {
        if (e.status === "online") online.add(e.processId);
        else online.delete(e.processId);
        lowest = Math.min(lowest, online.size);
        return seen.filter((s) => s.status === "online").length === 3;
      },
      { seen },
    );
    await rolled;
    assert.equal(
      lowest,
      2,
      `never fewer than 2 online; events: ${seen.map((e) => `${e.processId}:${e.status}:${e.reason ?? ""}`).join(" ")}`,
    );
    assert.deepEqual(
      seen.filter((e) => e.status === "online").map((e) => e.processId),
      [2, 1, 0],
      "highest index first",
    );
    await watch.return!();
  });

  it("a change that never becomes ready stops the roll and reports it; the rest keeps running", async () => {
    const ns = suite.orchestrator.namespace("stuck");
    const good = {
      image: "slow-listener.mjs",
      scale: 3,
      ports: [{ name: "app" }],
      args: listenArgs(0),
      readiness: { socket: "app", periodMs: 50 },
    };
    const watch = ns.watchServices();
    await ns.ensureService("s", good);
    const before = await untilAllOnline(watch, "s", 3);
    await watch.return!();
    // The new version never listens.
    await assert.rejects(
      ns.ensureService("s", { ...good, args: listenArgs(1_000_000) }),
      /stopped at process 2: not online.*processes 0\.\.1 still run the previous config/,
    );
    const now = ns.watchServices();
    const snapshot: ServiceEvent[] = [];
    for (let i = 0; i < 3; i++) snapshot.push((await now.next()).value as ServiceEvent);
    assert.deepEqual(snapshot.map((e) => e.pid).slice(0, 2), before.map((e) => e.pid).slice(0, 2), "processes 0 and 1 were not touched");
    assert.equal(snapshot[0]!.status, "online");
    assert.equal(snapshot[1]!.status, "online");
    assert.equal(snapshot[2]!.status, "offline");
    assert.equal(snapshot[2]!.reason, "starting");
    await now.return!();
    void readFileSync;
  });
});
