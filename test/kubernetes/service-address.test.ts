// The service address on Kubernetes: the ClusterIP Service "<name>-svc" beside
// the headless one. No cluster can run here, so these run against the in-process
// fake API server (fake-api-server.ts); what kube-proxy does with the Service
// (balancing over Ready pods only) is Kubernetes' part and is not exercised.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ValidationError } from "../../src/contract/errors.js";
import type { ServiceConfig } from "../../src/contract/types.js";
import { KubeClient } from "../../src/kubernetes/client.js";
import { KubernetesApiError } from "../../src/kubernetes/index.js";
import { K8S_NAMESPACE as NS, setup } from "./helpers.js";

const TIMEOUT = { timeout: 20_000 };

function web(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return {
    image: "ghcr.io/example/web:1",
    scale: 2,
    ports: [{ name: "http", portHint: 8080 }],
    args: (a) => ["--listen", a.listenAddrs["http"]!],
    ...overrides,
  };
}

const servicePath = (name: string) => `/api/v1/namespaces/${NS}/services/${name}`;

describe("the service address on Kubernetes (fake API server: no cluster runs here)", () => {
  test("serviceAddress is the ClusterIP Service's DNS name, with the cluster domain and name prefix", TIMEOUT, async (t) => {
    const { fake, another } = await setup(t);
    const orchestrator = another({ namePrefix: "env1-", clusterDomain: "corp.example" });
    const service = await orchestrator.namespace("default").ensureService("web", web());
    assert.ok(fake.objects.services.has(`${NS}/env1-default-web-svc`));
    assert.equal(service.serviceAddress("http"), `env1-default-web-svc.${NS}.svc.corp.example:8080`);
    assert.equal(service.serviceTcpAddress("http"), service.serviceAddress("http"), "every Kubernetes port is TCP");
    // The per-process addresses stay on the headless Service, in the same domain.
    assert.equal(service.addresses("http")[0], `env1-default-web-0.env1-default-web.${NS}.svc.corp.example:8080`);
    assert.throws(() => service.serviceAddress("sql"), ValidationError);
    assert.throws(() => service.serviceAddress("__proto__"), ValidationError, "an inherited property is no port");
  });

  test(
    "an upgrade from a corral without the ClusterIP Service creates it and replaces no pod; drop tolerates it missing",
    TIMEOUT,
    async (t) => {
      const { fake, orchestrator } = await setup(t);
      const ns = orchestrator.namespace("default");
      await ns.ensureService("web", web());
      const pods = fake.podsOf(NS, "default-web").map((p) => p.metadata.uid);

      // What an older corral left: the headless Service and the StatefulSet only.
      fake.objects.services.delete(`${NS}/default-web-svc`);
      await ns.ensureService("web", web());
      assert.equal(fake.objects.services.get(`${NS}/default-web-svc`)?.spec?.["type"], "ClusterIP");
      assert.deepEqual(
        fake.podsOf(NS, "default-web").map((p) => p.metadata.uid),
        pods,
        "the pod template does not change: no pod is replaced",
      );

      fake.objects.services.delete(`${NS}/default-web-svc`);
      await ns.dropService("web");
      assert.equal(fake.objects.services.size, 0);
      assert.equal(fake.objects.statefulsets.size, 0);
    },
  );

  test("drop deletes each Service only as it read it (a uid precondition)", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const ns = orchestrator.namespace("default");
    await ns.ensureService("web", web());
    const uids = new Map([...fake.objects.services.values()].map((s) => [s.metadata.name, s.metadata.uid]));
    fake.requests.length = 0;
    await ns.dropService("web");
    const deletes = fake.requests.filter((r) => r.method === "DELETE" && r.path.includes("/services/"));
    assert.deepEqual(
      deletes.map((r) => r.path),
      [servicePath("default-web-svc"), servicePath("default-web")],
    );
    for (const r of deletes) {
      const name = r.path.slice(r.path.lastIndexOf("/") + 1);
      assert.deepEqual((JSON.parse(r.body) as { preconditions?: unknown }).preconditions, { uid: uids.get(name) });
    }

    // A Service replaced since it was read: the fake answers 409 as the API server does, and it is left alone.
    await ns.ensureService("web", web());
    const client = new KubeClient(fake.kubeConfig(NS), NS, "corral", { attempts: 1 });
    await client.deleteService("default-web-svc", "not-its-uid");
    assert.ok(fake.objects.services.has(`${NS}/default-web-svc`));
    // A 409 is an answer only for a delete with a precondition.
    fake.fail({ method: "DELETE", path: /\/services\/default-web$/, status: 409 });
    await assert.rejects(client.deleteService("default-web"), (e: unknown) => e instanceof KubernetesApiError && e.status === 409);
  });

  test("one service's ClusterIP name is another's headless Service: neither is applied over or deleted", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const a = orchestrator.namespace("a");
    // Service "b" wants "a-b" and "a-b-svc"; service "b-svc" wants "a-b-svc" and "a-b-svc-svc".
    await a.ensureService("b", web({ scale: 1 }));
    await assert.rejects(a.ensureService("b-svc", web({ scale: 1 })), /Service "a-b-svc" .*belongs to corral service "a\/b"; refusing/);
    assert.equal(fake.objects.statefulsets.has(`${NS}/a-b-svc`), false, "the refused ensure wrote nothing");
    assert.equal(fake.objects.services.get(`${NS}/a-b-svc`)?.spec?.["type"], "ClusterIP", "b's Service is untouched");
    await a.dropService("b-svc");
    assert.ok(fake.objects.services.has(`${NS}/a-b-svc`), "dropping b-svc (never made) left b's Service");
    assert.deepEqual(await a.listServices(), ["b"]);

    // The other way round.
    await a.dropService("b");
    await a.ensureService("b-svc", web({ scale: 1 }));
    await assert.rejects(a.ensureService("b", web({ scale: 1 })), /Service "a-b-svc" .*belongs to corral service "a\/b-svc"; refusing/);
    assert.equal(fake.objects.statefulsets.has(`${NS}/a-b`), false);
    await a.dropService("b");
    assert.equal(fake.objects.services.get(`${NS}/a-b-svc`)?.spec?.["clusterIP"], "None", "b-svc's headless Service is untouched");
    assert.deepEqual(await a.listServices(), ["b-svc"]);
  });

  test("a Service of that name that corral did not make is not taken over", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const now = new Date().toISOString();
    const meta = { namespace: NS, uid: "someone-elses", resourceVersion: "1", creationTimestamp: now };
    fake.objects.services.set(`${NS}/default-web-svc`, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "default-web-svc", ...meta },
      spec: { type: "ClusterIP", ports: [{ port: 80 }] },
    });
    await assert.rejects(
      orchestrator.namespace("default").ensureService("web", web()),
      /Service "default-web-svc" .*belongs to something other than corral; refusing to take it over/,
    );
    assert.equal(fake.requests.filter((r) => r.method === "PATCH").length, 0);
    await orchestrator.namespace("default").dropService("web");
    assert.equal(fake.objects.services.get(`${NS}/default-web-svc`)?.metadata.uid, "someone-elses");
  });

  test("a service whose last port goes loses its ClusterIP Service (Kubernetes keeps none without ports)", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const ns = orchestrator.namespace("default");
    await ns.ensureService("web", web());
    const service = await ns.ensureService("web", web({ ports: [], args: () => ["--batch"] }));
    assert.equal(fake.objects.services.has(`${NS}/default-web-svc`), false);
    assert.ok(fake.objects.services.has(`${NS}/default-web`), "the headless Service stays: the pods' DNS names need it");
    assert.throws(() => service.serviceAddress("http"), ValidationError);

    fake.requests.length = 0;
    await ns.ensureService("web", web({ ports: [], args: () => ["--batch"] }));
    assert.deepEqual(
      fake.requests.filter((r) => r.method === "PATCH" || r.method === "DELETE").map((r) => `${r.method} ${r.path}`),
      [`PATCH ${servicePath("default-web")}`, `PATCH /apis/apps/v1/namespaces/${NS}/statefulsets/default-web`],
      "no ClusterIP Service applied or deleted when there is none",
    );
    await ns.ensureService("web", web());
    assert.ok(fake.objects.services.has(`${NS}/default-web-svc`), "a port back: the Service is back");
  });
});
