import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ValidationError } from "../../src/contract/errors.js";
import type { ServiceAssignments, ServiceEvent } from "../../src/contract/types.js";
import { validateServiceConfig } from "../../src/contract/validation.js";
import { renderArgs } from "../../src/kubernetes/args.js";
import { KubernetesApiError, KubernetesConnectionError, isTransient, toApiError } from "../../src/kubernetes/errors.js";
import { KubernetesOrchestrator } from "../../src/kubernetes/index.js";
import { FakeKubernetes } from "./fake-api-server.js";
import { ResyncBuffer } from "../../src/util/resync-buffer.js";
import { objectName, podIndex } from "../../src/kubernetes/names.js";
import { podToEvent, type PodLike } from "../../src/kubernetes/pod-status.js";
import { assignPorts } from "../../src/kubernetes/ports.js";
import { parseQuantity } from "../../src/kubernetes/quantity.js";
import { withRetry } from "../../src/kubernetes/retry.js";

const call = { verb: "get", resource: "pods", namespace: "ns", name: "p" };

function pod(status: PodLike["status"], extra: Partial<NonNullable<PodLike["metadata"]>> = {}): PodLike {
  return { metadata: { name: "default-db-0", labels: { "corral.dev/service-id": "db" }, ...extra }, status };
}
const container = (c: object) => ({ containerStatuses: [{ name: "service", restartCount: 2, ...c }] });

describe("pod status to ServiceEvent", () => {
  test("online when the pod is Ready", () => {
    const e = podToEvent(
      "db",
      0,
      pod({
        conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" }],
        ...container({ state: { running: {} } }),
      }),
    );
    assert.equal(e.status, "online");
    assert.equal(e.restartCount, 2);
    assert.equal(e.time.toISOString(), "2026-01-01T00:00:00.000Z");
  });

  test("oom-killed for OOMKilled and for exit codes 137, 135, 167, current or last state", () => {
    for (const terminated of [
      { exitCode: 137, reason: "OOMKilled" },
      { exitCode: 137 },
      { exitCode: 135 },
      { exitCode: 167 },
      { exitCode: 0, reason: "OOMKilled" },
    ]) {
      assert.equal(podToEvent("db", 0, pod(container({ state: { terminated } }))).reason, "oom-killed", JSON.stringify(terminated));
      assert.equal(
        podToEvent("db", 0, pod(container({ state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated } }))).reason,
        "oom-killed",
      );
    }
  });

  test("otherwise the container's reason, with exit code", () => {
    const crashed = podToEvent("db", 0, pod(container({ state: { terminated: { exitCode: 2, reason: "Error" } } })));
    assert.equal(crashed.reason, "Error");
    assert.equal(crashed.exitCode, 2);
    assert.equal(
      podToEvent("db", 0, pod(container({ state: { waiting: { reason: "ImagePullBackOff", message: "no such image" } } }))).message,
      "no such image",
    );
    assert.equal(podToEvent("db", 0, pod(container({ state: { running: {} } }))).reason, "not-ready");
    assert.equal(podToEvent("db", 0, pod({ phase: "Pending" })).reason, "starting");
    assert.equal(podToEvent("db", 0, pod({ phase: "Failed", reason: "Evicted" })).reason, "Evicted");
    assert.equal(
      podToEvent("db", 0, pod({ conditions: [{ type: "Ready", status: "True" }] }, { deletionTimestamp: new Date() })).reason,
      "stopped",
    );
  });
});

describe("ResyncBuffer", () => {
  test("a consumer that falls behind gets a fresh snapshot instead of the backlog", async () => {
    const state = new Map<number, ServiceEvent>();
    const ev = (processId: number, restartCount: number): ServiceEvent => ({
      serviceId: "s",
      processId,
      status: "online",
      time: new Date(0),
      restartCount,
    });
    let closed = false;
    const buffer = new ResyncBuffer<ServiceEvent>(
      () => [...state.values()],
      3,
      () => (closed = true),
    );
    for (let i = 1; i <= 10; i++) {
      const e = ev(i % 2, i);
      state.set(e.processId, e);
      buffer.push(e); // never waits
    }
    const first = await buffer.next();
    const second = await buffer.next();
    assert.deepEqual(
      [first.value, second.value].map((e: ServiceEvent) => `${e.processId}#${e.restartCount}`),
      ["1#9", "0#10"],
    );
    buffer.push(ev(0, 11));
    assert.equal((await buffer.next()).value.restartCount, 11);
    await buffer.return();
    assert.equal(closed, true);
    assert.equal((await buffer.next()).done, true);
  });

  test("a close with an error reaches the consumer", async () => {
    const buffer = new ResyncBuffer<number>(
      () => [],
      10,
      () => {},
    );
    const pending = buffer.next();
    buffer.close(new Error("forbidden"));
    await assert.rejects(pending, /forbidden/);
  });
});

describe("helpers", () => {
  test("Kubernetes quantities", () => {
    assert.equal(parseQuantity("250m"), 0.25);
    assert.equal(parseQuantity("123456789n"), 0.123456789);
    assert.equal(parseQuantity("64Mi"), 64 * 1024 ** 2);
    assert.equal(parseQuantity("1G"), 1e9);
    assert.equal(parseQuantity("1e3"), 1000);
    assert.equal(parseQuantity("12"), 12);
    assert.equal(parseQuantity("12Q"), undefined);
    assert.equal(parseQuantity(undefined), undefined);
  });

  test("ports without a hint get a stable number that avoids hinted ones", () => {
    const a = assignPorts([{ name: "sql" }, { name: "http" }]);
    const b = assignPorts([{ name: "http" }, { name: "grpc", portHint: 9000 }, { name: "sql" }]);
    assert.equal(a["sql"], b["sql"]);
    assert.equal(a["http"], b["http"]);
    const taken = a["sql"]!;
    const c = assignPorts([{ name: "other", portHint: taken }, { name: "sql" }]);
    assert.notEqual(c["sql"], taken);
  });

  test("object names and pod indexes", () => {
    assert.equal(objectName("", "default", "db"), "default-db");
    assert.equal(objectName("env-", "default", "db"), "env-default-db");
    assert.throws(() => objectName("", "1ns", "db"), ValidationError);
    assert.equal(podIndex("default-db", "default-db-12"), 12);
    assert.equal(podIndex("default-db", "default-db-x"), undefined);
    assert.equal(podIndex("default-db", "default-db-01"), undefined);
    assert.equal(podIndex("default", "default-db-1"), undefined);
  });

  test("args: a printed processIndex becomes $(CORRAL_PROCESS_INDEX); anything else is refused", () => {
    const at = (i: number) => ({ processIndex: i, listenAddrs: {}, peerAddrs: [{}, {}] });
    const printed = validateServiceConfig({
      image: "x",
      scale: 2,
      args: (a: ServiceAssignments) => ["--id", `n${a.processIndex}`, "$HOME"],
    });
    assert.deepEqual(renderArgs(printed, at, 2), { args: ["--id", "n$(CORRAL_PROCESS_INDEX)", "$$HOME"], usesIndex: true });
    const branching = validateServiceConfig({
      image: "x",
      scale: 2,
      args: (a: ServiceAssignments) => (a.processIndex === 0 ? ["--leader"] : []),
    });
    assert.throws(() => renderArgs(branching, at, 2), /processIndex only by printing/);
    const constant = validateServiceConfig({ image: "x", scale: 2, args: () => ["a"] });
    assert.deepEqual(renderArgs(constant, at, 2), { args: ["a"], usesIndex: false });
  });

  test("transient errors are retried, others are not; both end as KubernetesApiError", async () => {
    assert.equal(isTransient({ code: 503 }), true);
    assert.equal(isTransient({ code: 429 }), true);
    assert.equal(isTransient({ code: 403 }), false);
    assert.equal(isTransient(Object.assign(new Error("x"), { code: "ECONNREFUSED" })), true);
    let tries = 0;
    const value = await withRetry(
      call,
      async () => {
        if (++tries < 3) throw { code: 503, body: "{}" };
        return "ok";
      },
      { initialDelayMs: 1, maxDelayMs: 2 },
    );
    assert.equal(value, "ok");
    tries = 0;
    await assert.rejects(
      withRetry(call, async () => {
        tries++;
        throw { code: 404, body: JSON.stringify({ message: 'pods "p" not found' }) };
      }),
      (e: unknown) => e instanceof KubernetesApiError && e.status === 404 && /pods "p" not found/.test(e.message),
    );
    assert.equal(tries, 1);
    const forbidden = toApiError({ code: 403, body: { message: "nope" } }, { verb: "watch", resource: "pods", namespace: "prod" });
    assert.ok(forbidden instanceof KubernetesApiError);
    assert.match(forbidden.message, /RBAC must allow verb "watch" on resource "pods" in namespace "prod"/);
  });

  test("an API server that cannot be reached is retried, then named in a KubernetesConnectionError", { timeout: 10_000 }, async () => {
    const fake = await FakeKubernetes.start();
    const kubeconfig = fake.kubeConfig();
    await fake.close(); // the port is closed now: connections are refused
    const orchestrator = await KubernetesOrchestrator.create({ kubeconfig, retry: { attempts: 3, initialDelayMs: 1, maxDelayMs: 2 } });
    try {
      await assert.rejects(orchestrator.namespace("default").listServices(), (e: unknown) => {
        assert.ok(e instanceof KubernetesConnectionError, String(e));
        assert.match(e.message, /cannot reach the Kubernetes API server to list statefulsets\.apps in namespace "corral-test"/);
        return true;
      });
    } finally {
      await orchestrator.close();
    }
  });
});
