import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eachLimited } from "../../src/util/each-limited.js";

describe("eachLimited", () => {
  it("runs every item once, never more than `limit` at a time", async () => {
    const items = Array.from({ length: 25 }, (_, i) => i);
    let active = 0;
    let most = 0;
    const seen: number[] = [];
    await eachLimited(items, 4, async (item) => {
      active++;
      most = Math.max(most, active);
      // Items end out of order: later ones sooner.
      for (let i = 0; i < 25 - item; i++) await Promise.resolve();
      seen.push(item);
      active--;
    });
    assert.equal(most, 4);
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      items,
    );
  });

  it("rejects with the first failure and still runs the items left", async () => {
    const ran: number[] = [];
    await assert.rejects(
      eachLimited([0, 1, 2, 3, 4, 5], 2, async (item) => {
        await Promise.resolve();
        ran.push(item);
        if (item === 1) throw new Error("item 1 failed");
      }),
      /item 1 failed/,
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      [...ran].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5],
    );
  });

  it("takes no items and a limit above their count", async () => {
    await eachLimited([], 3, () => Promise.reject(new Error("not called")));
    const ran: string[] = [];
    await eachLimited(["a"], 100, async (item) => void ran.push(item));
    assert.deepEqual(ran, ["a"]);
  });

  it("refuses a limit that is not a positive integer", async () => {
    for (const limit of [0, -1, 1.5, Number.NaN])
      await assert.rejects(
        eachLimited([1], limit, async () => {}),
        RangeError,
      );
  });
});
