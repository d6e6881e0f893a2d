// The bounded chaos run of `npm test` (about a minute): see chaos.ts. Longer
// runs: `npm run chaos -- --minutes N`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runChaos } from "./chaos.js";

describe("chaos: SIGKILLed daemons and children during changes, a daemon without descriptors to spare", () => {
  it("converges after every round: each desired process exactly once, nothing else, the state file loads", async () => {
    const figures = await runChaos({ durationMs: Number(process.env.CORRAL_CHAOS_MS ?? 60_000) });
    assert.ok(figures.rounds >= 3, `${figures.rounds} rounds`);
    assert.deepEqual(figures.violations, []);
  });
});
