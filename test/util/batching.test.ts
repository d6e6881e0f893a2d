// The two helpers that batch work on the hot paths: coalesced sweeps (parent
// cgroups when hundreds of processes stop) and sliced maps (metrics of hundreds
// of processes without holding the event loop).
import assert from "node:assert/strict";
import { setImmediate as nextTurn } from "node:timers/promises";
import { test } from "node:test";
import { coalesced } from "../../src/util/coalesce.js";
import { mapInSlices } from "../../src/util/slices.js";

test("coalesced: callers during a run share one later run, and each sees a run that began after its call", async () => {
  let runs = 0;
  let release: (() => void) | undefined;
  const sweep = coalesced(async () => {
    runs++;
    await new Promise<void>((resolve) => (release = resolve));
  });
  const first = sweep();
  const late = Array.from({ length: 100 }, () => sweep());
  assert.equal(runs, 1);
  release!();
  await first;
  await nextTurn();
  assert.equal(runs, 2, "the hundred late callers share one run");
  release!();
  await Promise.all(late);
  const after = sweep();
  assert.equal(runs, 3, "a call once all is idle starts its own run at once");
  release!();
  await after;
});

test("coalesced: a failed run rejects its callers only; the shared next run still happens", async () => {
  let runs = 0;
  const sweep = coalesced(async () => {
    runs++;
    await nextTurn();
    if (runs === 1) throw new Error("first fails");
  });
  const first = sweep();
  const second = sweep();
  await assert.rejects(first, /first fails/);
  await second;
  assert.equal(runs, 2);
});

test("mapInSlices: keeps the order, and the event loop turns between slices", async () => {
  const items = Array.from({ length: 10 }, (_, i) => i);
  const order: string[] = [];
  let turns = 0;
  const counting = (async () => {
    while (turns < 100) {
      await nextTurn();
      turns++;
    }
  })();
  const seenTurns: number[] = [];
  const out = await mapInSlices(items, 3, async (i) => {
    order.push(`start ${i}`);
    seenTurns.push(turns);
    await nextTurn();
    return i * 2;
  });
  turns = 100;
  await counting;
  assert.deepEqual(
    out,
    items.map((i) => i * 2),
  );
  // Items of one slice start in the same turn; the next slice starts in a later one.
  assert.equal(seenTurns[0], seenTurns[2]);
  assert.ok(seenTurns[3]! > seenTurns[2]!, `slice 2 starts after slice 1: ${seenTurns.join(",")}`);
  assert.ok(seenTurns[9]! > seenTurns[6]!);
});

test("mapInSlices: the awaits of all slices overlap (a sampling window is waited once, not once per slice)", async () => {
  let inFlight = 0;
  let most = 0;
  await mapInSlices(
    Array.from({ length: 20 }, (_, i) => i),
    5,
    async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inFlight--;
    },
  );
  assert.equal(most, 20);
});
