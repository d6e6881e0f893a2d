import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, test } from "node:test";
import { UnknownServiceError, ValidationError, OrchestratorClosedError } from "../../src/contract/errors.js";
import type { ServiceConfig } from "../../src/contract/types.js";
import { KubernetesApiError, KubernetesSecretNotFoundError } from "../../src/kubernetes/index.js";
import type { FakeKubernetes, RecordedRequest } from "./fake-api-server.js";
import { K8S_NAMESPACE as NS, brief, setup, take, until, within } from "./helpers.js";

const TIMEOUT = { timeout: 20_000 };

/** Resolves once the fake has an open pod watch (the orchestrator's watch requests are asynchronous). */
async function watchOpen(fake: FakeKubernetes): Promise<void> {
  await within(5_000, "an open pod watch", async () => {
    while (fake.openPodWatches === 0) await once(fake, "watch-opened");
  });
}

function db(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return {
    image: "ghcr.io/example/db:1",
    scale: 2,
    ports: [{ name: "sql", portHint: 6875 }],
    args: (a) => ["--listen", a.listenAddrs["sql"]!, `--peers=${a.peerAddrs.map((p) => p["sql"]).join(",")}`],
    ...overrides,
  };
}

const uids = (pods: { metadata: { uid: string } }[]) => pods.map((p) => p.metadata.uid);
const podDeletes = (requests: RecordedRequest[]) =>
  requests.filter((r) => r.method === "DELETE" && /\/pods\/[^/]+$/.test(r.path)).map((r) => r.path.slice(r.path.lastIndexOf("/") + 1));

describe("KubernetesOrchestrator against the fake API server", () => {
  test("ensureService applies both Services and the StatefulSet with one forced field manager", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const service = await orchestrator.namespace("default").ensureService("db", db());

    const applies = fake.requests.filter((r) => r.method === "PATCH");
    assert.deepEqual(
      applies.map((r) => r.path),
      [
        `/api/v1/namespaces/${NS}/services/default-db`,
        `/api/v1/namespaces/${NS}/services/default-db-svc`,
        `/apis/apps/v1/namespaces/${NS}/statefulsets/default-db`,
      ],
    );
    for (const r of applies) {
      assert.equal(r.contentType, "application/apply-patch+yaml");
      assert.equal(r.query.get("fieldManager"), "corral");
      assert.equal(r.query.get("force"), "true");
    }
    assert.equal(fake.objects.services.get(`${NS}/default-db`)?.spec?.["clusterIP"], "None");
    assert.equal(fake.podsOf(NS, "default-db").length, 2);
    assert.deepEqual(service.addresses("sql"), [
      `default-db-0.default-db.${NS}.svc.cluster.local:6875`,
      `default-db-1.default-db.${NS}.svc.cluster.local:6875`,
    ]);
    assert.throws(() => service.addresses("nope"), ValidationError);
    // The service address is the ClusterIP Service, which balances over the Ready pods only.
    const clusterIp = fake.objects.services.get(`${NS}/default-db-svc`);
    assert.equal(clusterIp?.spec?.["type"], "ClusterIP");
    assert.equal(clusterIp?.spec?.["publishNotReadyAddresses"], false);
    assert.deepEqual(clusterIp?.spec?.["selector"], fake.objects.services.get(`${NS}/default-db`)?.spec?.["selector"]);
    assert.equal(service.serviceAddress("sql"), `default-db-svc.${NS}.svc.cluster.local:6875`);
    assert.equal(service.serviceTcpAddress("sql"), `default-db-svc.${NS}.svc.cluster.local:6875`);
    assert.throws(
      () => service.serviceAddress("nope"),
      (e: unknown) => e instanceof ValidationError && /port/.test(e.message) && /not a port of service "db"/.test(e.message),
    );
    assert.throws(() => service.serviceTcpAddress("nope"), ValidationError);
    assert.deepEqual(await orchestrator.namespace("default").listServices(), ["db"], "two Services, one corral service");

    // The same config again changes nothing on the cluster.
    const before = uids(fake.podsOf(NS, "default-db"));
    await orchestrator.namespace("default").ensureService("db", db());
    assert.deepEqual(uids(fake.podsOf(NS, "default-db")), before);
    assert.deepEqual(podDeletes(fake.requests), []);
  });

  test("a new scale adds or removes the highest-numbered pods only", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const ns = orchestrator.namespace("default");
    await ns.ensureService("db", db({ scale: 2 }));
    const [p0, p1] = uids(fake.podsOf(NS, "default-db"));

    const up = await ns.ensureService("db", db({ scale: 3 }));
    const afterUp = fake.podsOf(NS, "default-db");
    assert.equal(afterUp.length, 3);
    assert.deepEqual(uids(afterUp).slice(0, 2), [p0, p1], "existing pods are kept although their peer list changed");
    assert.equal(up.addresses("sql").length, 3);

    await ns.ensureService("db", db({ scale: 1 }));
    assert.deepEqual(uids(fake.podsOf(NS, "default-db")), [p0]);
    assert.deepEqual(podDeletes(fake.requests), [], "corral deleted no pod itself: the controller removed the surplus");
  });

  test("a template change replaces only changed pods, one at a time, highest first, each Ready before the next", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const ns = orchestrator.namespace("default");
    await ns.ensureService("db", db({ scale: 3 }));
    const original = uids(fake.podsOf(NS, "default-db"));

    // New pods start not ready; the test makes each Ready a moment after it appears.
    fake.autoReady = false;
    const created: string[] = [];
    fake.on("pod-created", (pod: { metadata: { name: string } }) => {
      created.push(pod.metadata.name);
      setImmediate(() => fake.setPodStatus(NS, pod.metadata.name, { ready: true }));
    });
    const readyWhenNextDeleted: boolean[] = [];
    fake.on("request", (r: RecordedRequest) => {
      if (r.method !== "DELETE" || !r.path.includes("/pods/")) return;
      // Every replacement made so far is Ready when corral deletes the next pod.
      readyWhenNextDeleted.push(
        created.every((name) => (fake.pod(NS, name)?.status as { conditions: { status: string }[] }).conditions[0]!.status === "True"),
      );
    });

    await ns.ensureService("db", db({ scale: 3, image: "ghcr.io/example/db:2" }));
    assert.deepEqual(podDeletes(fake.requests), ["default-db-2", "default-db-1", "default-db-0"]);
    assert.deepEqual(readyWhenNextDeleted, [true, true, true]);
    const replaced = fake.podsOf(NS, "default-db");
    assert.ok(replaced.every((p) => !original.includes(p.metadata.uid)));
    assert.ok(replaced.every((p) => (p.spec as { containers: { image: string }[] }).containers[0]!.image === "ghcr.io/example/db:2"));

    // A pod that missed a change (here: its hash forged stale) is the only one replaced.
    fake.requests.length = 0;
    const keep = uids(fake.podsOf(NS, "default-db"));
    fake.pod(NS, "default-db-1")!.metadata.annotations!["corral.dev/pod-template-hash"] = "stale";
    await ns.ensureService("db", db({ scale: 3, image: "ghcr.io/example/db:2" }));
    assert.deepEqual(podDeletes(fake.requests), ["default-db-1"]);
    const now = uids(fake.podsOf(NS, "default-db"));
    assert.equal(now[0], keep[0]);
    assert.notEqual(now[1], keep[1]);
    assert.equal(now[2], keep[2]);
  });

  test("dropService deletes the StatefulSet and both Services and waits for the pods; unknown ids (404) are fine", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const ns = orchestrator.namespace("default");
    await ns.ensureService("db", db());
    await ns.dropService("db");
    assert.equal(fake.objects.statefulsets.size, 0);
    assert.equal(fake.objects.services.size, 0);
    assert.equal(fake.podsOf(NS, "default-db").length, 0);
    assert.deepEqual(await ns.listServices(), []);

    fake.requests.length = 0;
    await ns.dropService("db");
    await ns.dropService("never-was");
    const deletes = fake.requests.filter((r) => r.method === "DELETE");
    assert.deepEqual(
      deletes.map((r) => r.path),
      [`/apis/apps/v1/namespaces/${NS}/statefulsets/default-db`, `/apis/apps/v1/namespaces/${NS}/statefulsets/default-never-was`],
      "each drop tried the StatefulSet's delete and took the 404 as success; Services that are not there are not deleted",
    );
  });

  test("listServices sees this namespace's StatefulSets, including an earlier run's, and no one else's", TIMEOUT, async (t) => {
    const { orchestrator, another } = await setup(t);
    await orchestrator.namespace("a").ensureService("web", db({ scale: 1 }));
    await orchestrator.namespace("a").ensureService("db", db({ scale: 1 }));
    await orchestrator.namespace("b").ensureService("db", db({ scale: 1 }));
    await another({ namePrefix: "other-" })
      .namespace("a")
      .ensureService("cache", db({ scale: 1 }));

    assert.deepEqual(await orchestrator.namespace("a").listServices(), ["db", "web"]);
    assert.deepEqual(await orchestrator.namespace("b").listServices(), ["db"]);
    // A new orchestrator (a restart) finds the leftovers.
    assert.deepEqual(await another().namespace("a").listServices(), ["db", "web"]);
    // Calls on a namespace apply in order: a list after a drop does not see it.
    const ns = orchestrator.namespace("a");
    const drop = ns.dropService("web");
    const list = ns.listServices();
    await drop;
    assert.deepEqual(await list, ["db"]);
  });

  test("watchServices: a snapshot first, then changes; OOM kills and restarts are reported", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const ns = orchestrator.namespace("default");
    await ns.ensureService("db", db());
    const controller = new AbortController();
    const events = ns.watchServices({ signal: controller.signal })[Symbol.asyncIterator]();

    const snapshot = await take(events, 2);
    assert.deepEqual(snapshot.map(brief), ["db/0:online#0", "db/1:online#0"]);

    fake.setPodStatus(NS, "default-db-1", { ready: false, restartCount: 1, terminated: { exitCode: 137, reason: "OOMKilled" } });
    let [e] = await take(events, 1);
    assert.equal(brief(e!), "db/1:offline(oom-killed)#1");
    assert.equal(e!.exitCode, 137);

    // Back in CrashLoopBackOff: the last termination (SIGBUS, 135) still reads as OOM.
    fake.setPodStatus(NS, "default-db-1", {
      ready: false,
      restartCount: 2,
      waiting: { reason: "CrashLoopBackOff" },
      lastTerminated: { exitCode: 135 },
    });
    [e] = await take(events, 1);
    assert.equal(brief(e!), "db/1:offline(oom-killed)#2");
    fake.setPodStatus(NS, "default-db-1", { ready: false, restartCount: 3, terminated: { exitCode: 167 } });
    [e] = await take(events, 1);
    assert.equal(brief(e!), "db/1:offline(oom-killed)#3");

    // Any other exit: the container's own reason.
    fake.setPodStatus(NS, "default-db-0", { ready: false, restartCount: 1, terminated: { exitCode: 1, reason: "Error" } });
    [e] = await take(events, 1);
    assert.equal(brief(e!), "db/0:offline(Error)#1");
    assert.equal(e!.exitCode, 1);

    fake.setPodStatus(NS, "default-db-0", { ready: true, restartCount: 1 });
    [e] = await take(events, 1);
    assert.equal(brief(e!), "db/0:online#1");

    // A status write that changes nothing corral reports yields no event; the next real change does.
    fake.setPodStatus(NS, "default-db-0", { ready: true, restartCount: 1 });
    await ns.ensureService("db", db({ scale: 3 }));
    [e] = await take(events, 1);
    assert.equal(brief(e!), "db/2:online#0");

    controller.abort();
    assert.equal((await events.next()).done, true);
  });

  test("watchServices resynchronises with a fresh snapshot after the watch expires (410 Gone)", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const ns = orchestrator.namespace("default");
    await ns.ensureService("db", db());
    const events = ns.watchServices()[Symbol.asyncIterator]();
    await take(events, 2);
    await watchOpen(fake);

    // The watch expires, and a change happens while no watch is open: the snapshot after the relist carries it.
    fake.expireWatches();
    fake.setPodStatus(NS, "default-db-1", {
      ready: false,
      restartCount: 1,
      waiting: { reason: "CrashLoopBackOff" },
      lastTerminated: { exitCode: 1, reason: "Error" },
    });
    const resync = await take(events, 2);
    assert.deepEqual(resync.map(brief), ["db/0:online#0", "db/1:offline(CrashLoopBackOff)#1"], "a fresh snapshot: one event per process");

    // Then changes flow again from the new watch.
    await watchOpen(fake);
    fake.setPodStatus(NS, "default-db-0", { ready: false, restartCount: 1, terminated: { exitCode: 137, reason: "OOMKilled" } });
    const [e] = await take(events, 1);
    assert.equal(brief(e!), "db/0:offline(oom-killed)#1");

    // A watch the server closes normally is re-opened from the last resourceVersion; when that
    // was compacted meanwhile, the new watch gets 410 in its stream, and the pods are listed again.
    await watchOpen(fake);
    fake.compact();
    fake.closeWatches();
    const again = await take(events, 2);
    assert.deepEqual(again.map(brief), ["db/0:offline(oom-killed)#1", "db/1:offline(CrashLoopBackOff)#1"]);
    assert.ok(
      fake.requests.filter((r) => r.method === "GET" && r.path.endsWith("/pods") && r.query.get("watch") !== "true").length >= 3,
      "listed once per expiry",
    );
    await events.return?.();
  });

  test("a watcher that does not read never blocks the orchestrator and still gets the latest state", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t, { watchBufferSize: 3 });
    const ns = orchestrator.namespace("default");
    await ns.ensureService("db", db());
    const slow = ns.watchServices()[Symbol.asyncIterator]();
    const fast = ns.watchServices()[Symbol.asyncIterator]();
    await take(fast, 2);
    for (let i = 1; i <= 20; i++) fake.setPodStatus(NS, "default-db-0", { ready: i % 2 === 0, restartCount: i });
    await ns.ensureService("db", db({ scale: 3 })); // not blocked by the reader that is 20 events behind
    await until(fast, (e) => e.processId === 2);

    const latest = new Map<number, string>();
    await until(slow, (e) => {
      latest.set(e.processId, brief(e));
      return latest.get(0) === "db/0:online#20" && latest.has(1) && latest.has(2);
    });
    assert.equal(latest.get(1), "db/1:online#0");
    assert.equal(latest.get(2), "db/2:online#0");
    await slow.return?.();
    await fast.return?.();
  });

  test("fetchServiceMetrics reads PodMetrics; nulls where metrics-server has none or is absent", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const ns = orchestrator.namespace("default");
    await ns.ensureService("db", db({ scale: 3 }));
    fake.podMetrics.set("default-db-0", { cpu: "250000000n", memory: "64Mi" });
    fake.podMetrics.set("default-db-1", { cpu: "1500m", memory: "1Gi" });
    assert.deepEqual(await ns.fetchServiceMetrics("db"), [
      { cpuNanoCores: 250_000_000, memoryBytes: 64 * 1024 ** 2, diskBytes: null },
      { cpuNanoCores: 1_500_000_000, memoryBytes: 1024 ** 3, diskBytes: null },
      { cpuNanoCores: null, memoryBytes: null, diskBytes: null },
    ]);
    fake.metricsEnabled = false;
    assert.deepEqual(
      await ns.fetchServiceMetrics("db"),
      Array.from({ length: 3 }, () => ({ cpuNanoCores: null, memoryBytes: null, diskBytes: null })),
    );
    await assert.rejects(ns.fetchServiceMetrics("nope"), UnknownServiceError);
  });

  test("logs() reads a pod's log with tail, and follows it until aborted", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const ns = orchestrator.namespace("default");
    await ns.ensureService("db", db());
    const t0 = new Date("2026-01-01T00:00:00.000Z");
    for (let i = 1; i <= 5; i++) fake.appendLog(NS, "default-db-1", `line ${i}`, new Date(t0.getTime() + i * 1000));

    const tail: string[] = [];
    for await (const line of ns.logs!("db", 1, { tail: 2 })) tail.push(`${line.time.toISOString()} ${line.stream} ${line.line}`);
    assert.deepEqual(tail, ["2026-01-01T00:00:04.000Z stdout line 4", "2026-01-01T00:00:05.000Z stdout line 5"]);

    const controller = new AbortController();
    const followed: string[] = [];
    const following = once(fake, "log-followed");
    const reader = (async () => {
      for await (const line of ns.logs!("db", 1, { tail: 1, follow: true, signal: controller.signal })) {
        followed.push(line.line);
        if (followed.length === 2) controller.abort();
      }
    })();
    await within(5_000, "the log follower", () => following);
    fake.appendLog(NS, "default-db-1", "line 6");
    await within(5_000, "the followed lines", () => reader);
    assert.deepEqual(followed, ["line 5", "line 6"]);

    await assert.rejects(
      async () => {
        for await (const _ of ns.logs!("db", 7)) void _;
      },
      (error: unknown) => error instanceof KubernetesApiError && error.status === 404,
    );
  });

  test('secretsController keeps secrets in Kubernetes Secrets under data key "contents"', TIMEOUT, async (t) => {
    const { fake, orchestrator, another } = await setup(t);
    const secrets = orchestrator.secretsController();
    await secrets.ensure("db-password", new TextEncoder().encode("hunter2"));
    await secrets.ensure("tls-key", new Uint8Array([0, 1, 2, 255]));
    const stored = fake.objects.secrets.get(`${NS}/corral-secret-db-password`);
    assert.equal(stored?.data?.["contents"], Buffer.from("hunter2").toString("base64"));
    assert.deepEqual(await secrets.list(), ["db-password", "tls-key"]);
    assert.equal(await secrets.reader().readString("db-password"), "hunter2");
    assert.deepEqual(await secrets.reader().read("tls-key"), new Uint8Array([0, 1, 2, 255]));

    await secrets.ensure("db-password", new TextEncoder().encode("correct horse"));
    assert.equal(await secrets.reader().readString("db-password"), "correct horse");

    await secrets.delete("db-password");
    await secrets.delete("db-password"); // 404: already gone
    assert.deepEqual(await secrets.list(), ["tls-key"]);
    await assert.rejects(secrets.reader().read("db-password"), KubernetesSecretNotFoundError);
    assert.deepEqual(
      await another({ namePrefix: "other-" }).secretsController().list(),
      [],
      "another environment's secrets are not listed",
    );

    const before = fake.requests.length;
    await assert.rejects(secrets.ensure("Bad/Id", new Uint8Array()), ValidationError);
    await assert.rejects(secrets.reader().read("../etc"), ValidationError);
    assert.equal(fake.requests.length, before, "invalid ids are refused before any API call");
  });

  test("a 403 names the verb and resource RBAC must allow", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    fake.fail({
      method: "PATCH",
      path: /\/statefulsets\//,
      status: 403,
      message: 'statefulsets.apps "default-db" is forbidden: User "tester" cannot patch resource "statefulsets"',
    });
    const error = await orchestrator
      .namespace("default")
      .ensureService("db", db())
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(error instanceof KubernetesApiError, String(error));
    assert.equal(error.status, 403);
    assert.match(error.message, /RBAC must allow verb "patch" on resource "statefulsets\.apps" in namespace "corral-test"/);
    assert.match(error.message, /User "tester" cannot patch/);
    assert.equal(fake.requests.filter((r) => r.method === "PATCH" && r.path.includes("statefulsets")).length, 1, "a 403 is not retried");
  });

  test("a watch that RBAC refuses ends with the 403 instead of staying silent", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    fake.fail({ method: "GET", path: /\/pods$/, status: 403, times: Infinity });
    const events = orchestrator.namespace("default").watchServices()[Symbol.asyncIterator]();
    await assert.rejects(
      within(5_000, "the watch to fail", () => events.next()),
      (e: unknown) => e instanceof KubernetesApiError && e.status === 403 && /verb "list" on resource "pods"/.test(e.message),
    );
    // Allowed to list but not to watch: the same, naming "watch".
    fake.faults.length = 0;
    fake.fail({ method: "GET", path: /\/pods$/, status: 403, times: Infinity, when: (q) => q.get("watch") === "true" });
    const watched = orchestrator.namespace("default").watchServices()[Symbol.asyncIterator]();
    await assert.rejects(
      within(5_000, "the watch to fail", () => watched.next()),
      (e: unknown) => e instanceof KubernetesApiError && e.status === 403 && /verb "watch" on resource "pods"/.test(e.message),
    );
  });

  test("an object of the same name that corral does not own is not taken over or deleted", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    // Namespace "a-b" with service "c" and namespace "a" with service "b-c" share the name "a-b-c".
    await orchestrator.namespace("a-b").ensureService("c", db({ scale: 1 }));
    await assert.rejects(orchestrator.namespace("a").ensureService("b-c", db({ scale: 1 })), /belongs to corral service "a-b\/c"/);
    await orchestrator.namespace("a").dropService("b-c");
    assert.equal(fake.objects.statefulsets.size, 1);
    assert.deepEqual(await orchestrator.namespace("a-b").listServices(), ["c"]);
  });

  test("transient errors (5xx, 429) are retried with back-off", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    fake.fail({ method: "GET", path: /\/statefulsets\/default-db$/, status: 503, times: 2 });
    fake.fail({ method: "PATCH", path: /\/services\/default-db$/, status: 429 });
    await orchestrator.namespace("default").ensureService("db", db());
    assert.equal(fake.requests.filter((r) => r.method === "GET" && r.path.endsWith("/statefulsets/default-db")).length, 3);
    assert.equal(fake.requests.filter((r) => r.method === "PATCH" && r.path.endsWith("/services/default-db")).length, 2);

    // Past the configured attempts the last error surfaces, naming the call.
    fake.fail({ method: "GET", path: /\/statefulsets$/, status: 500, times: Infinity });
    await assert.rejects(
      orchestrator.namespace("default").listServices(),
      (e: unknown) => e instanceof KubernetesApiError && e.status === 500 && /list statefulsets\.apps/.test(e.message),
    );
  });

  test("bad input is refused before any API call", TIMEOUT, async (t) => {
    const { fake, orchestrator } = await setup(t);
    const ns = orchestrator.namespace("default");
    await assert.rejects(ns.ensureService("Bad_Id", db()), ValidationError);
    await assert.rejects(ns.ensureService("db", db({ scale: -1 })), ValidationError);
    await assert.rejects(ns.ensureService("db", db({ ports: [{ name: "a" }, { name: "a" }] })), ValidationError);
    await assert.rejects(ns.ensureService("db", { ...db(), memoryLimit: "lots" as never }), ValidationError);
    await assert.rejects(ns.dropService("../x"), ValidationError);
    await assert.rejects(ns.fetchServiceMetrics("UPPER"), ValidationError);
    assert.throws(() => orchestrator.namespace("Not Valid"), ValidationError);
    assert.throws(() => ns.logs!("db", -1), ValidationError);
    assert.equal(fake.requests.length, 0);
    assert.equal(orchestrator.namespace("default"), ns, "namespaces are memoized");
  });

  test("after close, calls are refused and watches end", TIMEOUT, async (t) => {
    const { orchestrator } = await setup(t);
    const ns = orchestrator.namespace("default");
    await ns.ensureService("db", db({ scale: 1 }));
    const events = ns.watchServices()[Symbol.asyncIterator]();
    await take(events, 1);
    await orchestrator.close();
    assert.equal((await events.next()).done, true);
    await assert.rejects(ns.listServices(), OrchestratorClosedError);
    assert.throws(() => orchestrator.namespace("other"), OrchestratorClosedError);
  });
});
