import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { diffStates, startOrder, stopOrder, type DesiredState, type ServiceSpec } from "../../src/config/index.js";

function service(dependsOn: ServiceSpec["dependsOn"] = {}, overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return { command: "/bin/true", args: [], ports: [], scale: 1, env: {}, labels: {}, dependsOn, ...overrides };
}

function state(services: Record<string, ServiceSpec>, namespace = "default"): DesiredState {
  return { environment: "dev", namespace, services };
}

describe("start and stop order", () => {
  it("groups services in dependency layers, sorted within a layer", () => {
    const s = state({
      web: service({ api: "ready", assets: "completed" }),
      worker: service({ queue: "ready", db: "ready" }),
      api: service({ db: "ready", queue: "started" }),
      queue: service(),
      db: service(),
      assets: service(),
    });
    assert.deepEqual(startOrder(s), [["assets", "db", "queue"], ["api", "worker"], ["web"]]);
    assert.deepEqual(stopOrder(s), [["web"], ["api", "worker"], ["assets", "db", "queue"]]);
  });

  it("does not depend on the order of the keys", () => {
    const a = state({ b: service({ a: "ready" }), a: service() });
    const b = state({ a: service(), b: service({ a: "ready" }) });
    assert.deepEqual(startOrder(a), startOrder(b));
    assert.deepEqual(startOrder(a), [["a"], ["b"]]);
  });

  it("ignores dependencies on services outside the state and handles an empty state", () => {
    assert.deepEqual(startOrder(state({ web: service({ elsewhere: "ready" }) })), [["web"]]);
    assert.deepEqual(startOrder(state({})), []);
    assert.deepEqual(stopOrder(state({})), []);
  });

  it("throws on a cycle that got past the loader", () => {
    assert.throws(() => startOrder(state({ a: service({ b: "ready" }), b: service({ a: "ready" }) })), /cycle/);
  });
});

describe("diffStates", () => {
  it("sorts services into added, changed, unchanged and removed", () => {
    const before = state({ keep: service(), change: service(), drop: service() });
    const after = state({ keep: service(), change: service({}, { scale: 2 }), add: service() });
    assert.deepEqual(diffStates(before, after), { added: ["add"], changed: ["change"], unchanged: ["keep"], removed: ["drop"] });
  });

  it("treats everything as added when there is no previous state", () => {
    assert.deepEqual(diffStates(null, state({ b: service(), a: service() })), {
      added: ["a", "b"],
      changed: [],
      unchanged: [],
      removed: [],
    });
  });

  it("compares deeply, ignoring key order and undefined fields", () => {
    const one = service(
      { a: "ready", b: "started" },
      { env: { X: "1", Y: "2" }, readiness: { http: { port: "p", path: "/" }, periodMs: 5 } },
    );
    const two: ServiceSpec = {
      dependsOn: { b: "started", a: "ready" },
      readiness: { periodMs: 5, http: { path: "/", port: "p" } },
      env: { Y: "2", X: "1" },
      labels: {},
      scale: 1,
      ports: [],
      args: [],
      command: "/bin/true",
      memory: undefined,
    };
    assert.deepEqual(diffStates(state({ s: one }), state({ s: two })).unchanged, ["s"]);
    // Order inside lists is meaningful.
    const args1 = service({}, { args: ["a", "b"] });
    const args2 = service({}, { args: ["b", "a"] });
    assert.deepEqual(diffStates(state({ s: args1 }), state({ s: args2 })).changed, ["s"]);
    // A nested change counts.
    const env2 = service({}, { env: { X: "1", Y: "3" } });
    assert.deepEqual(diffStates(state({ s: service({}, { env: { X: "1", Y: "2" } }) }), state({ s: env2 })).changed, ["s"]);
  });

  it("moves every service when the namespace changes", () => {
    const before = state({ a: service(), gone: service() }, "one");
    const after = state({ a: service() }, "two");
    assert.deepEqual(diffStates(before, after), { added: ["a"], changed: [], unchanged: [], removed: ["a", "gone"] });
  });
});
