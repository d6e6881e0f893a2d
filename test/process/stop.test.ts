import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isPidAlive, nextEvent, orchestratorPerSuite, until, untilAllOnline, type TestEnvironment } from "../helpers.js";

/** Online only once the fixture has installed its signal traps (it touches $READY_FILE then). */
function trapsInstalled(env: TestEnvironment, name: string) {
  const file = join(env.root, `${name}.ready`);
  return { env: { READY_FILE: file }, readiness: { exec: ["test", "-f", file], periodMs: 20 } };
}

describe("graceful stop", () => {
  const suite = orchestratorPerSuite("stop");
  const { env } = suite;

  it("a process that handles SIGTERM gets its grace period and exits by itself", async () => {
    const ns = suite.orchestrator.namespace("term");
    const events = ns.watchServices();
    const marker = join(env.root, "graceful-term");
    await ns.ensureService("g", {
      image: "graceful",
      scale: 1,
      args: () => [marker],
      terminationGracePeriodMs: 5000,
      ...trapsInstalled(env, "g1"),
    });
    await untilAllOnline(events, "g", 1);
    await ns.dropService("g");
    const stopped = await nextEvent(events, (e) => e.status === "offline");
    assert.equal(stopped.reason, "stopped");
    assert.equal(stopped.exitCode, 0, "it finished its shutdown and exited cleanly");
    assert.equal(stopped.signal, null);
    assert.equal(readFileSync(marker, "utf8").trim(), "TERM");
    await events.return!();
  });

  it("uses the service's stopSignal", async () => {
    const ns = suite.orchestrator.namespace("int");
    const marker = join(env.root, "graceful-int");
    const events = ns.watchServices();
    await ns.ensureService("g", { image: "graceful", scale: 1, args: () => [marker], stopSignal: "SIGINT", ...trapsInstalled(env, "g2") });
    await untilAllOnline(events, "g", 1);
    await ns.dropService("g");
    assert.equal(readFileSync(marker, "utf8").trim(), "INT");
    await events.return!();
  });

  it("a process ignoring SIGTERM is killed at the deadline, not before", async () => {
    const ns = suite.orchestrator.namespace("kill");
    const events = ns.watchServices();
    await ns.ensureService("s", { image: "stubborn", scale: 1, terminationGracePeriodMs: 300, ...trapsInstalled(env, "s1") });
    const [online] = await untilAllOnline(events, "s", 1);
    const started = performance.now();
    await ns.dropService("s");
    const elapsed = performance.now() - started;
    const stopped = await nextEvent(events, (e) => e.status === "offline");
    assert.equal(stopped.signal, "SIGKILL");
    assert.ok(elapsed >= 300, `killed only once the grace period was over (after ${elapsed.toFixed(0)} ms)`);
    assert.equal(isPidAlive(online!.pid!), false);
    await events.return!();
  });

  it("a slow stop in one namespace does not hold up another", async () => {
    const slow = suite.orchestrator.namespace("slow-stop");
    const other = suite.orchestrator.namespace("busy");
    const events = slow.watchServices();
    await slow.ensureService("s", { image: "stubborn", scale: 1, terminationGracePeriodMs: 60_000, ...trapsInstalled(env, "s2") });
    const [online] = await untilAllOnline(events, "s", 1);
    let dropped = false;
    const drop = slow.dropService("s").then(() => (dropped = true));
    await other.ensureService("quick", { image: "sleeper", scale: 1 });
    await other.dropService("quick");
    assert.equal(dropped, false, "the other namespace's work finished while the stop was still waiting");
    process.kill(online!.pid!, "SIGKILL"); // end the wait without a minute-long test
    await drop;
    await events.return!();
    await until(() => !isPidAlive(online!.pid!), "the stubborn process to be gone");
  });
});
