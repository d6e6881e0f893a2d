import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServiceEvent } from "../../src/contract/types.js";
import { BackoffSchedule } from "../../src/process/backoff.js";
import { nextEvent, orchestratorPerSuite, untilAllOnline } from "../helpers.js";

/** True when no event is already queued: every event of one exit is emitted in the same tick. */
async function nothingPending(events: AsyncIterator<ServiceEvent>): Promise<boolean> {
  const next = events.next();
  const raced = await Promise.race([next, new Promise((resolve) => setImmediate(() => resolve("none")))]);
  return raced === "none";
}

describe("back-off schedule", () => {
  const settings = { initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 0, resetAfterMs: 30_000 };

  it("doubles from the first delay up to the cap", () => {
    const schedule = new BackoffSchedule(settings);
    assert.deepEqual(
      Array.from({ length: 10 }, () => schedule.next(5)),
      [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000],
    );
  });

  it("starts over after a run as long as resetAfterMs", () => {
    const schedule = new BackoffSchedule(settings);
    schedule.next(5);
    schedule.next(5);
    assert.equal(schedule.next(5), 400);
    assert.equal(schedule.next(30_000), 100, "a crash after a stable run restarts quickly");
    assert.equal(schedule.next(5), 200);
  });

  it("spreads each delay by the jitter fraction, never past the cap", () => {
    const low = new BackoffSchedule({ ...settings, jitter: 0.2 }, () => 0);
    const high = new BackoffSchedule({ ...settings, jitter: 0.2 }, () => 0.999999);
    assert.equal(low.next(0), 80);
    assert.equal(high.next(0), 120);
    const capped = new BackoffSchedule({ ...settings, jitter: 0.5, initialMs: 10_000 }, () => 0.999999);
    assert.equal(capped.next(0), 10_000);
  });
});

describe("restart policy on real processes", () => {
  const suite = orchestratorPerSuite("restart");

  it("restarts a crash-looping process with growing gaps, bounded by the cap, and says when the next start is due", async () => {
    const ns = suite.orchestrator.namespace("loop");
    const events = ns.watchServices();
    await ns.ensureService("c", {
      image: "exit-with",
      args: () => ["3"],
      scale: 1,
      restartBackoff: { initialMs: 20, multiplier: 2, maxMs: 160, jitter: 0 },
    });
    const delays: number[] = [];
    const exits: ServiceEvent[] = [];
    while (delays.length < 6) {
      const event = await nextEvent(events, (e) => e.status === "offline" && (e.reason === "backoff" || e.reason === "exited"));
      if (event.reason === "exited") exits.push(event);
      else delays.push(event.nextStartAt!.getTime() - event.time.getTime());
    }
    for (const [i, expected] of [20, 40, 80, 160, 160, 160].entries())
      assert.ok(Math.abs(delays[i]! - expected) <= 2, `delay ${i} is ${delays[i]}, expected ${expected}`);
    assert.ok(exits.every((e) => e.exitCode === 3 && e.signal === null));
    assert.deepEqual(
      exits.slice(0, 4).map((e) => e.restartCount),
      [0, 1, 2, 3],
    );
    await ns.dropService("c");
    await events.return!();
  });

  it("on-failure: a clean exit stays completed, a failure is restarted", async () => {
    const ns = suite.orchestrator.namespace("onfail");
    const events = ns.watchServices();
    await ns.ensureService("ok", { image: "exit-with", args: () => ["0"], scale: 1, restartPolicy: "on-failure" });
    const done = await nextEvent(events, (e) => e.status === "offline" && e.reason !== "starting");
    assert.equal(done.reason, "completed");
    assert.equal(done.exitCode, 0);
    assert.ok(await nothingPending(events), "no restart is scheduled");

    await ns.ensureService("bad", { image: "exit-with", args: () => ["1"], scale: 1, restartPolicy: "on-failure" });
    const failed = await nextEvent(events, (e) => e.serviceId === "bad" && e.reason === "exited");
    assert.equal(failed.exitCode, 1);
    const backoff = await nextEvent(events, () => true);
    assert.equal(backoff.reason, "backoff");
    await nextEvent(events, (e) => e.serviceId === "bad" && e.restartCount === 1);
    await ns.dropService("bad");
    await ns.dropService("ok");
    await events.return!();
  });

  it("never: no exit is restarted", async () => {
    const ns = suite.orchestrator.namespace("never");
    const events = ns.watchServices();
    await ns.ensureService("s", { image: "sleeper", scale: 1, restartPolicy: "never" });
    const [online] = await untilAllOnline(events, "s", 1);
    process.kill(online!.pid!, "SIGKILL");
    const dead = await nextEvent(events, (e) => e.status === "offline");
    assert.equal(dead.reason, "crashed");
    assert.ok(await nothingPending(events), "no restart is scheduled");
    const snapshot = ns.watchServices();
    assert.equal(((await snapshot.next()).value as ServiceEvent).reason, "crashed", "it stays down");
    await snapshot.return!();
    await events.return!();
  });
});
