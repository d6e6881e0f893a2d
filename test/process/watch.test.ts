import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServiceEvent } from "../../src/contract/types.js";
import { nextEvent, orchestratorPerSuite, testEnvironment, untilAllOnline } from "../helpers.js";

describe("watchServices", () => {
  const suite = orchestratorPerSuite("watch");

  it("yields a snapshot of every process first, then changes", async () => {
    const ns = suite.orchestrator.namespace("snap");
    const warmup = ns.watchServices();
    await ns.ensureService("a", { image: "sleeper", scale: 2 });
    await ns.ensureService("b", { image: "sleeper", scale: 1 });
    await untilAllOnline(warmup, "a", 2);
    await untilAllOnline(warmup, "b", 1);
    await warmup.return!();

    const events = ns.watchServices();
    const snapshot: ServiceEvent[] = [];
    for (let i = 0; i < 3; i++) snapshot.push((await events.next()).value as ServiceEvent);
    assert.deepEqual(
      snapshot.map((e) => `${e.serviceId}/${e.processId}:${e.status}`),
      ["a/0:online", "a/1:online", "b/0:online"],
    );
    for (const event of snapshot) {
      assert.equal(typeof event.pid, "number");
      assert.ok(event.time instanceof Date);
      assert.equal(event.restartCount, 0);
    }
    process.kill(snapshot[2]!.pid!, "SIGTERM");
    const offline = await nextEvent(events, () => true);
    assert.deepEqual(
      {
        serviceId: offline.serviceId,
        processId: offline.processId,
        status: offline.status,
        reason: offline.reason,
        signal: offline.signal,
        pid: offline.pid,
      },
      { serviceId: "b", processId: 0, status: "offline", reason: "crashed", signal: "SIGTERM", pid: snapshot[2]!.pid },
    );
    await events.return!();
  });

  it("ends when the AbortSignal fires, also while waiting for an event", async () => {
    const ns = suite.orchestrator.namespace("abort");
    const controller = new AbortController();
    const events = ns.watchServices({ signal: controller.signal });
    const pending = events.next();
    controller.abort();
    assert.deepEqual(await pending, { done: true, value: undefined });
    const collected: ServiceEvent[] = [];
    for await (const event of ns.watchServices({ signal: AbortSignal.abort() })) collected.push(event);
    assert.deepEqual(collected, []);
  });

  it("ends when the consumer breaks out of for-await", async () => {
    const ns = suite.orchestrator.namespace("brk");
    await ns.ensureService("s", { image: "sleeper", scale: 1 });
    let count = 0;
    for await (const _ of ns.watchServices()) {
      count++;
      break;
    }
    assert.equal(count, 1);
  });

  it("resynchronises a slow consumer with a fresh snapshot instead of blocking or losing the latest state", async () => {
    const slowEnv = testEnvironment("slow");
    try {
      const o = await slowEnv.create({ watchBufferSize: 4 });
      const ns = o.namespace("slow");
      const slow = ns.watchServices(); // never read while the events pile up
      const fast = ns.watchServices();
      await ns.ensureService("s", { image: "sleeper", scale: 10 });
      const online = await untilAllOnline(fast, "s", 10);
      process.kill(online[3]!.pid!, "SIGKILL");
      const back = await nextEvent(fast, (e) => e.processId === 3 && e.status === "online");
      // The slow watcher overflowed (10+ events, buffer 4): it now reads the current state of every process.
      const replay: ServiceEvent[] = [];
      for (let i = 0; i < 10; i++) replay.push((await slow.next()).value as ServiceEvent);
      assert.deepEqual(
        replay.map((e) => e.processId),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
      assert.ok(replay.every((e) => e.status === "online"));
      assert.equal(replay[3]!.pid, back.pid);
      assert.equal(replay[3]!.restartCount, 1);
      await slow.return!();
      await fast.return!();
    } finally {
      await slowEnv.cleanup();
    }
  });
});
