// A start of more processes than launch at once: every process is listed from
// the start (offline, starting) while its launch waits its turn, and all of
// them come online.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { orchestratorPerSuite, until, untilAllOnline } from "../helpers.js";

const SCALE = 24;
/** service-runtime.ts's LAUNCHES_IN_FLIGHT. */
const IN_FLIGHT = 16;

function count(file: string): number {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0;
}

describe("a start of many processes", () => {
  const suite = orchestratorPerSuite("start-queue");
  const { env } = suite;

  it("lists every process while the launches wait their turn, then runs them all", async () => {
    const ns = suite.orchestrator.namespace("queued");
    const events = ns.watchServices();
    const gate = join(env.root, "gate");
    const entered = join(env.root, "entered");
    // Each launch holds in its preStart hook until the gate opens.
    const ensured = ns.ensureService("q", {
      image: "sleeper",
      scale: SCALE,
      hooks: {
        preStart: `echo "$CORRAL_PROCESS_INDEX" >> ${JSON.stringify(entered)}; while [ ! -e ${JSON.stringify(gate)} ]; do sleep 0.02; done`,
      },
    });
    await until(() => count(entered) >= IN_FLIGHT, `${IN_FLIGHT} launches to reach their preStart hook`);

    const listed = ns.processStatuses().find((s) => s.serviceId === "q")?.processes ?? [];
    assert.deepEqual(
      listed.map((p) => p.processId),
      Array.from({ length: SCALE }, (_, i) => i),
      "every process is listed, by index",
    );
    assert.ok(
      listed.every((p) => p.status === "offline" && p.reason === "starting" && p.pid === undefined),
      "none runs yet: all are offline, starting",
    );

    // The first launches hold the others back: no more than that many are past their turn.
    assert.equal(count(entered), IN_FLIGHT, "the other launches wait their turn");

    writeFileSync(gate, "");
    await ensured;
    await untilAllOnline(events, "q", SCALE);
    assert.equal(count(entered), SCALE, "each preStart ran once");
    await ns.dropService("q");
    await events.return!();
  });
});
