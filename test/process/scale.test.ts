import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, describe, it } from "node:test";
import { testEnvironment, untilAllOnline } from "../helpers.js";

const COUNT = 200;

describe(`${COUNT} processes in one service`, () => {
  const env = testEnvironment("scale");
  after(() => env.cleanup());

  it("starts, watches and drops them cleanly", async (t) => {
    const orchestrator = await env.create();
    const ns = orchestrator.namespace("many");
    const events = ns.watchServices();
    const started = performance.now();
    await ns.ensureService("s", { image: "sleeper", scale: COUNT, ports: [{ name: "p" }] });
    const online = await untilAllOnline(events, "s", COUNT, 120_000);
    const startMs = performance.now() - started;
    assert.equal(new Set(online.map((e) => e.pid)).size, COUNT, "distinct processes");
    assert.equal(env.processes().length, COUNT, "exactly that many on the machine");
    assert.equal(readdirSync(`${env.config.stateDir}/many-s`).filter((f) => f.endsWith(".pid")).length, COUNT);
    const metrics = await ns.fetchServiceMetrics("s");
    assert.equal(metrics.filter((m) => m.memoryBytes !== null).length, COUNT);

    const dropStarted = performance.now();
    await ns.dropService("s");
    const dropMs = performance.now() - dropStarted;
    assert.deepEqual(env.processes(), [], "none left after drop");
    // Reported for the closing note and the benchmarks, not asserted: timing belongs in npm run bench.
    t.diagnostic(`${COUNT} processes: all online after ${startMs.toFixed(0)} ms, dropped in ${dropMs.toFixed(0)} ms`);
    await events.return!();
  });
});
