// The daemon with `backend: kubernetes`, against the in-process fake API server
// (no cluster can run here; see docs/kubernetes.md for what that leaves unverified).
import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DaemonClient } from "../../src/cli/client.js";
import type { DesiredState } from "../../src/config/types.js";
import { objectName } from "../../src/kubernetes/names.js";
import { Daemon } from "../../src/server/daemon.js";
import { FakeKubernetes } from "../kubernetes/fake-api-server.js";
import { processRowBody } from "../../src/server/wire.js";
import { applyResultBody } from "../../src/server/wire-state.js";

const K8S_NAMESPACE = "shop";

describe("the daemon on the Kubernetes backend (fake API server)", () => {
  let fake: FakeKubernetes;
  let stateDir: string;
  let daemon: Daemon;
  let client: DaemonClient;
  const environment = "kube-env";
  const state = (scale: number): DesiredState => ({
    environment,
    namespace: "default",
    backend: "kubernetes",
    kubernetes: { kubeconfig: join(stateDir, "kubeconfig"), namespace: K8S_NAMESPACE },
    services: {
      web: {
        image: "ghcr.io/acme/web:1",
        args: ["--listen", "%P:http"],
        ports: [{ name: "http" }],
        scale,
        env: {},
        labels: {},
        dependsOn: {},
      },
    },
  });
  const pods = () => fake.podsOf(K8S_NAMESPACE, objectName(`${environment}-`, "default", "web"));

  before(async () => {
    fake = await FakeKubernetes.start();
    stateDir = realpathSync(mkdtempSync(join(tmpdir(), "corral-kube-daemon-")));
    writeFileSync(join(stateDir, "kubeconfig"), fake.kubeConfig(K8S_NAMESPACE).exportConfig());
    daemon = await Daemon.start({ stateDir, environment });
    client = new DaemonClient({ socketPath: join(stateDir, "corral.sock") });
  });
  after(async () => {
    await daemon.shutdown();
    await fake.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("applies a file's services as a StatefulSet and reports its pods as processes", async () => {
    const result = await client.post("/v1/apply", state(2), applyResultBody);
    assert.deepEqual(result.added, ["web"]);
    assert.equal(daemon.backend.kind, "kubernetes");
    assert.equal(pods().length, 2, "the simulated controller made two pods");
    for (const pod of pods()) fake.setPodStatus(K8S_NAMESPACE, pod.metadata.name!, { ready: true });
    const controller = new AbortController();
    const online = new Set<number>();
    for await (const event of client.events(controller.signal)) {
      if (!("snapshotEnd" in event) && event.status === "online") online.add(event.processId);
      if (online.size === 2) break;
    }
    controller.abort();
    const rows = await client.get("/v1/processes", processRowBody.array());
    assert.deepEqual(
      rows.map((r) => `${r.service}-${r.process}:${r.status}`),
      ["web-0:online", "web-1:online"],
    );
    assert.match(rows[0]!.tcpAddresses.http!, /^kube-env-default-web-0\.kube-env-default-web\.shop\.svc\.cluster\.local:\d+$/);
  });

  it("scales through the API and refuses to move running services to another backend", async () => {
    await client.post("/v1/services/web/scale", { scale: 3 });
    assert.equal(pods().length, 3);
    await assert.rejects(
      client.post("/v1/apply", { ...state(3), backend: "process", kubernetes: undefined }),
      /runs services on the kubernetes backend; stop them first/,
    );
  });

  it("drops the service from the cluster when the file no longer has it", async () => {
    await client.post("/v1/apply", { ...state(3), services: {} });
    assert.equal(pods().length, 0);
  });
});
