import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryLimit, ValidationError, validateId, validateServiceConfig } from "../../src/index.js";

function rejects(config: unknown, field: string, rule?: RegExp): void {
  assert.throws(
    () => validateServiceConfig(config),
    (e: unknown) => {
      assert.ok(e instanceof ValidationError, `expected a ValidationError, got ${String(e)}`);
      assert.equal(e.field, field);
      if (rule) assert.match(e.message, rule);
      return true;
    },
  );
}

describe("input validation shared by every backend", () => {
  it("accepts ids that are DNS labels and refuses everything else", () => {
    for (const ok of ["a", "a1", "a-b", "x".repeat(63), "0"]) assert.equal(validateId("service id", ok), ok);
    for (const bad of ["", "A", "a_b", "-a", "a-", "../etc", "a/b", "x".repeat(64), "a.b", 5, null]) {
      assert.throws(
        () => validateId("service id", bad),
        (e: unknown) => e instanceof ValidationError && e.field === "service id" && /\[a-z0-9\]/.test(e.message),
        String(bad),
      );
    }
  });

  it("names the field and the rule for each bad config", () => {
    rejects({ image: "x", scale: -1 }, "scale", /non-negative integer/);
    rejects({ image: "x", scale: 1.5 }, "scale", /non-negative integer/);
    rejects({ image: "x" }, "scale");
    rejects({ scale: 1 }, "image");
    rejects({ image: "", scale: 1 }, "image");
    rejects({ image: "x", scale: 1, ports: [{ name: "http" }, { name: "http" }] }, "ports[1].name", /duplicate port name "http"/);
    rejects({ image: "x", scale: 1, ports: [{ name: "Bad_Port" }] }, "ports[0].name", /\[a-z0-9\]/);
    rejects({ image: "x", scale: 1, ports: [{ name: "p", portHint: 70000 }] }, "ports[0].portHint");
    rejects({ image: "x", scale: 1, memoryLimit: "lots" }, "memoryLimit", /byte size/);
    rejects({ image: "x", scale: 1, cpuLimit: "fast" }, "cpuLimit", /cores/);
    rejects({ image: "x", scale: 1, diskLimit: 12 }, "diskLimit");
    rejects({ image: "x", scale: 1, args: ["not", "a", "function"] }, "args", /function/);
    rejects({ image: "x", scale: 1, env: { "A=B": "c" } }, "env.A=B", /'='/);
    rejects({ image: "x", scale: 1, labels: { "bad key!": "v" } }, "labels.bad key!");
    rejects({ image: "x", scale: 1, restartPolicy: "sometimes" }, "restartPolicy");
    rejects({ image: "x", scale: 1, stopSignal: "SIGNOPE" }, "stopSignal", /signal name/);
    rejects(
      { image: "x", scale: 1, ports: [{ name: "p" }], readiness: { socket: "p", exec: ["true"] } },
      "readiness.exec",
      /cannot be combined with socket: a probe has exactly one of socket, http, exec or logLine/,
    );
    rejects({ image: "x", scale: 1, readiness: { periodMs: 5 } }, "readiness", /must have exactly one of socket, http, exec or logLine/);
    rejects({ image: "x", scale: 1, readiness: { logLine: "(" } }, "readiness.logLine", /must be a regular expression: /);
    rejects({ image: "x", scale: 1, liveness: { logLine: "ready" } }, "liveness", /unknown field "logLine"/);
    rejects({ image: "x", scale: 1, liveness: { socket: "p" } }, "liveness.socket", /one of the service's ports/);
    rejects({ image: "x", scale: 1, startup: { exec: ["true"], logLine: "up" } }, "startup.logLine", /cannot be combined with exec/);
    rejects({ image: "x", scale: 1, restartLimit: { maxRestarts: -1 } }, "restartLimit.maxRestarts", /whole number/);
    rejects({ image: "x", scale: 1, readiness: { socket: "p" } }, "readiness.socket", /one of the service's ports/);
    rejects({ image: "x", scale: 1, imagePullPolicy: "Always" }, "config", /imagePullPolicy/);
  });

  it("fills defaults and accepts limits as value types or strings", () => {
    const c = validateServiceConfig({
      image: "x",
      scale: 2,
      memoryLimit: "1GiB",
      cpuLimit: "500m",
      ports: [{ name: "p" }],
      readiness: { socket: "p" },
    });
    assert.equal(c.memoryLimit!.bytes, 1024 ** 3);
    assert.equal(c.cpuLimit!.millicpus, 500);
    assert.equal(c.restartPolicy, "always");
    assert.equal(c.stopSignal, "SIGTERM");
    assert.equal(c.terminationGracePeriodMs, 10_000);
    assert.deepEqual(c.readiness, { socket: "p", periodMs: 1000, timeoutMs: 1000, failureThreshold: 3 });
    assert.deepEqual(c.args({ processIndex: 0, listenAddrs: {}, peerAddrs: [] }), []);
    const limit = MemoryLimit.parse("2GiB");
    assert.equal(validateServiceConfig({ image: "x", scale: 1, memoryLimit: limit }).memoryLimit, limit);
    const scheduling = { availabilityZones: ["a"], nodeSelector: { disk: "ssd" }, replicasSelector: [{ matchLabels: { a: "b" } }] };
    assert.deepEqual(validateServiceConfig({ image: "x", scale: 1, ...scheduling }).nodeSelector, { disk: "ssd" });
  });
});
