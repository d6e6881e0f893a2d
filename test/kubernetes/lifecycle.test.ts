// Hooks on Kubernetes (rendered manifests, checked against the Kubernetes
// schemas; no cluster runs here): postStart/preStop become exec handlers, a
// stop command joins preStop, preStart an init container of the service's
// image, the stop grace period terminationGracePeriodSeconds; what Kubernetes
// cannot do is refused naming the field.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { MemoryLimit } from "../../src/contract/limits.js";
import { ValidationError } from "../../src/contract/errors.js";
import type { ServiceConfig } from "../../src/contract/types.js";
import { renderManifests } from "../../src/kubernetes/index.js";
import { schemaProblems } from "./schema-check.js";

const base: ServiceConfig = {
  image: "redis:7",
  scale: 2,
  ports: [{ name: "redis" }],
  env: { MODE: "x" },
  memoryLimit: MemoryLimit.parse("256MiB"),
};

describe("lifecycle hooks on Kubernetes", () => {
  test("postStart, preStop and the stop command become exec handlers; preStart an init container; the grace period is the pod's", () => {
    const { statefulSet } = renderManifests("default", "cache", {
      ...base,
      stopSignal: "SIGINT",
      terminationGracePeriodMs: 45_500,
      hooks: {
        preStart: ["redis-check-aof", "--fix", "/data/appendonly.aof"],
        postStart: "redis-cli ping",
        preStop: { command: "sleep 5", timeoutMs: 6000 },
      },
      stop: { command: ["redis-cli", "shutdown"] },
    });
    assert.deepEqual(schemaProblems(statefulSet, "V1StatefulSet"), []);
    new StatefulSet(statefulSet as ConstructorParameters<typeof StatefulSet>[0]).validate();
    const pod = statefulSet.spec!.template.spec!;
    const container = pod.containers[0]!;
    assert.deepEqual(container.lifecycle?.postStart, { exec: { command: ["/bin/sh", "-c", "redis-cli ping"] } });
    assert.deepEqual(container.lifecycle?.preStop, {
      exec: { command: ["/bin/sh", "-c", "'/bin/sh' '-c' 'sleep 5'; 'redis-cli' 'shutdown'"] },
    });
    assert.equal(container.lifecycle?.stopSignal, "SIGINT", "the stop signal stays beside the handlers");
    assert.equal(pod.terminationGracePeriodSeconds, 46);
    const init = pod.initContainers?.find((c) => c.name === "pre-start");
    assert.ok(init, "preStart runs as an init container");
    assert.equal(init.image, "redis:7");
    assert.deepEqual(init.command, ["redis-check-aof", "--fix", "/data/appendonly.aof"]);
    assert.deepEqual(init.env, container.env, "with the service's env");
    assert.deepEqual(init.resources, container.resources);
  });

  test("a stop command alone is the preStop handler", () => {
    const { statefulSet } = renderManifests("default", "cache", { ...base, stop: { command: "redis-cli shutdown" } });
    assert.deepEqual(statefulSet.spec!.template.spec!.containers[0]!.lifecycle, {
      preStop: { exec: { command: ["/bin/sh", "-c", "redis-cli shutdown"] } },
    });
    assert.deepEqual(schemaProblems(statefulSet, "V1StatefulSet"), []);
  });

  test("what only the process backend can do is refused, naming the field", () => {
    assert.throws(
      () => renderManifests("default", "c", { ...base, hooks: { postStop: "true" } }),
      (e: unknown) => {
        return e instanceof ValidationError && e.field === "hooks.postStop";
      },
    );
    assert.throws(
      () => renderManifests("default", "c", { ...base, forking: true }),
      (e: unknown) => e instanceof ValidationError && e.field === "forking",
    );
    assert.throws(
      () => renderManifests("default", "c", { ...base, pidFile: "/run/redis.pid" }),
      (e: unknown) => e instanceof ValidationError && e.field === "pidFile",
    );
  });
});
