import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withPeerAddrs } from "../../src/contract/assignments.js";

describe("withPeerAddrs", () => {
  const peers = [{ p: "/run/a-0" }, { p: "/run/a-1" }];

  it("gives each process a list of its own, equal to the peers", () => {
    const first = withPeerAddrs({ processIndex: 0, listenAddrs: { p: "/run/a-0" } }, peers);
    const second = withPeerAddrs({ processIndex: 1, listenAddrs: { p: "/run/a-1" } }, peers);
    assert.deepEqual(first.peerAddrs, peers);
    first.peerAddrs.push({ p: "extra" });
    first.peerAddrs[0]!["p"] = "changed";
    assert.deepEqual(second.peerAddrs, [{ p: "/run/a-0" }, { p: "/run/a-1" }]);
    assert.deepEqual(peers, [{ p: "/run/a-0" }, { p: "/run/a-1" }]);
    // The same list on every read: a change made through it stays.
    assert.equal(first.peerAddrs.length, 3);
    assert.equal(first.peerAddrs[0]!["p"], "changed");
  });

  it("reads as a plain field: spread, JSON and assignment", () => {
    const assignments = withPeerAddrs({ processIndex: 0, listenAddrs: {} }, peers);
    assert.deepEqual({ ...assignments }, { processIndex: 0, listenAddrs: {}, peerAddrs: peers });
    assert.deepEqual(JSON.parse(JSON.stringify(assignments)), { processIndex: 0, listenAddrs: {}, peerAddrs: peers });
    assignments.peerAddrs = [];
    assert.deepEqual(assignments.peerAddrs, []);
  });
});
