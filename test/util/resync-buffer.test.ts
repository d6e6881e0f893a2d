// The one bounded, resyncing watcher buffer both backends use (src/util/resync-buffer.ts)
// and the process backend's fan-out over it (src/util/event-hub.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventHub } from "../../src/util/event-hub.js";
import { ResyncBuffer } from "../../src/util/resync-buffer.js";

describe("ResyncBuffer", () => {
  it("two overlapping next() calls both resolve, each with its own item", async () => {
    const buffer = new ResyncBuffer<number>(() => [], 10);
    const first = buffer.next();
    const second = buffer.next();
    buffer.push(1);
    buffer.push(2);
    assert.deepEqual(await Promise.all([first, second]), [
      { value: 1, done: false },
      { value: 2, done: false },
    ]);
  });

  it("a close ends every waiting reader", async () => {
    const buffer = new ResyncBuffer<number>(() => [], 10);
    const waiting = [buffer.next(), buffer.next(), buffer.next()];
    buffer.close();
    for (const result of await Promise.all(waiting)) assert.equal(result.done, true);
  });

  it("a slow reader is resynchronised with a snapshot instead of the backlog, and waiting readers get it", async () => {
    let state = [0, 0];
    const buffer = new ResyncBuffer<string>(() => state.map((v, i) => `${i}=${v}`), 3);
    for (let n = 1; n <= 10; n++) {
      state = [n, n * 10];
      buffer.push(`change ${n}`); // never waits, never grows past 3
    }
    assert.deepEqual([(await buffer.next()).value, (await buffer.next()).value], ["0=10", "1=100"]);
    const [a, b] = [buffer.next(), buffer.next()];
    buffer.push("after");
    buffer.push("later");
    assert.deepEqual([(await a).value, (await b).value], ["after", "later"]);
  });
});

describe("EventHub", () => {
  it("overlapping next() calls on one watcher both resolve", async () => {
    const hub = new EventHub<string>(10);
    const watcher = hub.subscribe(() => []);
    const first = watcher.next();
    const second = watcher.next();
    hub.publish("a");
    hub.publish("b");
    assert.deepEqual(
      (await Promise.all([first, second])).map((r) => r.value),
      ["a", "b"],
    );
    hub.close();
    assert.equal((await watcher.next()).done, true);
    assert.equal(hub.watcherCount, 0);
  });

  it("a watcher that falls behind reads a fresh snapshot; the others keep every event", async () => {
    let latest = "v0";
    const hub = new EventHub<string>(2);
    const slow = hub.subscribe(() => [latest]);
    const fast = hub.subscribe(() => [latest]);
    assert.equal((await fast.next()).value, "v0");
    const seen: string[] = [];
    for (let n = 1; n <= 5; n++) {
      latest = `v${n}`;
      hub.publish(latest);
      seen.push((await fast.next()).value as string);
    }
    assert.deepEqual(seen, ["v1", "v2", "v3", "v4", "v5"]);
    assert.equal((await slow.next()).value, "v5", "the slow watcher's next read is the current state");
    await slow.return!();
    await fast.return!();
    assert.equal(hub.watcherCount, 0);
  });

  it("a subscription whose signal already fired yields nothing", async () => {
    const hub = new EventHub<string>(10);
    const watcher = hub.subscribe(() => ["x"], AbortSignal.abort());
    assert.equal((await watcher.next()).done, true);
    assert.equal(hub.watcherCount, 0);
  });
});
