// The daemon's memory of the recent past stays bounded: by the window, by the
// count of events, by the count of series; a snapshot's repeat is kept once.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServiceEvent } from "../../src/contract/types.js";
import { DaemonHistory } from "../../src/server/history.js";
import type { ProcessRow } from "../../src/server/process-row.js";

const event = (processId: number, at: number, restartCount = 0): ServiceEvent => ({
  serviceId: "web",
  processId,
  status: "offline",
  reason: "crashed",
  time: new Date(at),
  restartCount,
});

const rowOf = (service: string, process: number, memoryBytes: number): ProcessRow => ({
  service,
  process,
  status: "online",
  reason: null,
  pid: 1,
  restarts: 0,
  cpuNanoCores: 1000,
  memoryBytes,
  uptimeSeconds: 1,
  addresses: {},
  tcpAddresses: {},
  nextStartAt: null,
  message: null,
  probes: {},
  crashLooping: false,
});

describe("the daemon's history", () => {
  it("keeps events of the window only, at most maxEvents, oldest first", () => {
    const history = new DaemonHistory({ windowMs: 60_000, maxEvents: 100, maxSeries: 10, sampleIntervalMs: 5000 });
    const start = 1_000_000;
    for (let i = 0; i < 5000; i++) history.record(event(0, start + i * 10, i), start + i * 10);
    const now = start + 5000 * 10;
    const kept = history.eventsSince(0, undefined, now);
    assert.equal(kept.length, 100, "bounded in count");
    assert.deepEqual(
      kept.map((e) => e.restartCount),
      Array.from({ length: 100 }, (_, i) => 4900 + i),
      "the newest, in order",
    );
    assert.equal(history.eventsSince(0, "db", now).length, 0, "by service");
    assert.equal(history.eventsSince(start + 4995 * 10, undefined, now).length, 5, "since a time");
    assert.equal(history.eventsSince(0, undefined, now + 120_000).length, 0, "nothing older than the window");
  });

  it("records an event repeated by a watch's snapshot once", () => {
    const history = new DaemonHistory();
    const now = Date.now();
    history.record(event(0, now, 1), now);
    history.record(event(0, now, 1), now);
    history.record(event(1, now, 1), now);
    assert.equal(history.eventsSince(0, undefined, now).length, 2);
  });

  it("keeps samples of the window, and at most maxSeries series", () => {
    const history = new DaemonHistory({ windowMs: 60_000, maxEvents: 100, maxSeries: 3, sampleIntervalMs: 5000 });
    const start = 10_000_000;
    for (let i = 0; i < 30; i++) history.sample([rowOf("web", 0, i), rowOf("web", 1, i)], start + i * 5000);
    const series = history.metrics(undefined, start + 29 * 5000);
    assert.equal(series.length, 2);
    assert.equal(series[0]!.t.length, 13, "a minute of 5 s samples");
    assert.equal(series[0]!.memoryBytes.at(-1), 29);
    history.sample(
      [2, 3, 4, 5].map((p) => rowOf("db", p, 1)),
      start + 30 * 5000,
    );
    assert.equal(history.metrics(undefined, start + 31 * 5000).length, 3, "bounded in series: the longest unsampled go");
    assert.equal(history.metrics("web", start + 31 * 5000).length, 0);
  });

  it("keeps a reading only once the last kept one is sampleIntervalMs old", () => {
    const history = new DaemonHistory({ windowMs: 600_000, maxEvents: 100, maxSeries: 10, sampleIntervalMs: 5000 });
    const start = 10_000_000;
    // ps, the dashboard's poll and a scrape, a second apart each, for 12 s.
    for (let i = 0; i <= 12; i++) history.sample([rowOf("web", 0, i)], start + i * 1000);
    const [series] = history.metrics(undefined, start + 12_000);
    assert.deepEqual(series!.memoryBytes, [0, 5, 10]);
    assert.equal(history.lastSampleAt, start + 10_000);
  });
});
