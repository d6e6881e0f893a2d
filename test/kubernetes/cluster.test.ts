/**
 * The Kubernetes backend against a real cluster (kind, minikube, ...). Runs only
 * when KUBECONFIG is set and its cluster answers; otherwise every test is
 * skipped. Everything it creates carries a random name prefix and is removed
 * at the end, pass or fail. See docs/kubernetes.md.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { CoreV1Api, KubeConfig, VersionApi } from "@kubernetes/client-node";
import type { ServiceConfig, ServiceEvent } from "../../src/contract/types.js";
import { statusOf } from "../../src/kubernetes/errors.js";
import { KubernetesOrchestrator } from "../../src/kubernetes/index.js";
import { until, within } from "./helpers.js";

async function reachableCluster(): Promise<KubeConfig | string> {
  if (!process.env["KUBECONFIG"]) return "KUBECONFIG is not set";
  try {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    await within(5_000, "the cluster's /version", () => kc.makeApiClient(VersionApi).getCode());
    return kc;
  } catch (error) {
    return `the cluster in KUBECONFIG does not answer: ${error instanceof Error ? error.message : String(error)}`;
  }
}

const cluster = await reachableCluster();
const skip = typeof cluster === "string" ? cluster : false;
const image = process.env["CORRAL_TEST_IMAGE"] ?? "busybox:1.36";

function echo(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return {
    image,
    // The index is printed, so it reaches the pod as $(CORRAL_PROCESS_INDEX) (needs Kubernetes >= 1.28).
    args: (a) => ["sh", "-c", `echo started ${a.processIndex}; exec sleep 3600`],
    ports: [{ name: "http", portHint: 8080 }],
    scale: 2,
    terminationGracePeriodMs: 1_000,
    ...overrides,
  };
}

describe("KubernetesOrchestrator on a real cluster", { skip }, () => {
  test("ensure, service address, scale, rolling change, watch, logs, metrics, secrets, drop", { timeout: 600_000 }, async (t) => {
    const kc = cluster as KubeConfig;
    const prefix = `ct${randomBytes(3).toString("hex")}-`;
    const orchestrator = await KubernetesOrchestrator.create({
      kubeconfig: kc,
      namePrefix: prefix,
      rolloutTimeoutMs: 240_000,
      pollIntervalMs: 500,
    });
    const ns = orchestrator.namespace("it");
    const core = kc.makeApiClient(CoreV1Api);
    const k8sNamespace = orchestrator.kubernetesNamespace;
    t.after(async () => {
      await ns.dropService("echo").catch(() => {});
      await orchestrator
        .secretsController()
        .delete("it-secret")
        .catch(() => {});
      await orchestrator.close();
    });
    const podUid = async (i: number) =>
      (await core.readNamespacedPod({ name: `${prefix}it-echo-${i}`, namespace: k8sNamespace })).metadata?.uid;

    const controller = new AbortController();
    const events = ns.watchServices({ signal: controller.signal })[Symbol.asyncIterator]();
    const online = new Set<number>();
    const seen = (e: ServiceEvent) => {
      if (e.serviceId !== "echo") return;
      if (e.status === "online") online.add(e.processId);
      else online.delete(e.processId);
    };

    const service = await ns.ensureService("echo", echo());
    assert.equal(service.addresses("http")[1], `${prefix}it-echo-1.${prefix}it-echo.${k8sNamespace}.svc.cluster.local:8080`);
    assert.equal(service.serviceAddress("http"), `${prefix}it-echo-svc.${k8sNamespace}.svc.cluster.local:8080`);
    // The service address's Service got a virtual IP from the cluster (the headless one has none).
    const clusterIp = (await core.readNamespacedService({ name: `${prefix}it-echo-svc`, namespace: k8sNamespace })).spec?.clusterIP;
    assert.ok(clusterIp && clusterIp !== "None", `a ClusterIP was allocated (got ${clusterIp})`);
    await until(events, (e) => (seen(e), online.has(0) && online.has(1)), 240_000);

    const logs: string[] = [];
    for await (const line of ns.logs!("echo", 1, { tail: 10 })) logs.push(line.line);
    assert.deepEqual(logs, ["started 1"]);

    const [uid0, uid1] = [await podUid(0), await podUid(1)];
    await ns.ensureService("echo", echo({ scale: 3 }));
    await until(events, (e) => (seen(e), online.has(2)), 240_000);
    assert.deepEqual([await podUid(0), await podUid(1)], [uid0, uid1], "scaling kept the existing pods");

    await ns.ensureService("echo", echo({ scale: 3, env: { CHANGED: "1" } }));
    assert.notEqual(await podUid(0), uid0, "a template change replaced the pods");

    const metrics = await ns.fetchServiceMetrics("echo");
    assert.equal(metrics.length, 3);
    for (const m of metrics) assert.ok(m.cpuNanoCores === null || typeof m.cpuNanoCores === "number");

    const secrets = orchestrator.secretsController();
    await secrets.ensure("it-secret", new TextEncoder().encode("s3cret"));
    assert.equal(await secrets.reader().readString("it-secret"), "s3cret");
    assert.ok((await secrets.list()).includes("it-secret"));
    await secrets.delete("it-secret");

    assert.deepEqual(await ns.listServices(), ["echo"]);
    await ns.dropService("echo");
    assert.deepEqual(await ns.listServices(), []);
    // drop deleted the ClusterIP Service too
    await assert.rejects(
      core.readNamespacedService({ name: `${prefix}it-echo-svc`, namespace: k8sNamespace }),
      (e: unknown) => statusOf(e) === 404,
    );
    controller.abort();
  });
});
