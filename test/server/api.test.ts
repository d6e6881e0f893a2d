import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { DesiredState, ServiceSpec } from "../../src/config/types.js";
import { DaemonClient } from "../../src/cli/client.js";
import { Daemon } from "../../src/server/daemon.js";
import { openApiDocument } from "../../src/server/openapi.js";
import { IMAGES, killEnvironment } from "../helpers.js";
import { z } from "../../src/util/zod.js";
import { desiredStateSchema } from "../../src/config/desired-state.js";
import { discoveryBody, metricsHistoryBody, processRowBody, secretIdsBody } from "../../src/server/wire.js";
import { applyResultBody } from "../../src/server/wire-state.js";

const server: ServiceSpec = {
  command: join(IMAGES, "server.mjs"),
  args: ["%P:http", "%I"],
  ports: [{ name: "http" }],
  scale: 2,
  env: { GREETING: "api" },
  labels: { tier: "front" },
  metrics: { port: "http", path: "/metrics" },
  readiness: { socket: "http", periodMs: 50 },
  dependsOn: { worker: "started" },
};
const worker: ServiceSpec = { command: join(IMAGES, "sleeper"), args: [], ports: [], scale: 1, env: {}, labels: {}, dependsOn: {} };

describe("the daemon's HTTP API", () => {
  let stateDir: string;
  let daemon: Daemon;
  let client: DaemonClient;
  const environment = `api-${process.pid}`;
  const state = (services: Record<string, ServiceSpec>): DesiredState => ({ environment, namespace: "default", services });

  before(async () => {
    stateDir = realpathSync(mkdtempSync(join(tmpdir(), "corral-api-")));
    daemon = await Daemon.start({ stateDir, environment });
    client = new DaemonClient({ socketPath: join(stateDir, "corral.sock") });
  });
  after(async () => {
    await daemon.shutdown({ stopServices: true });
    killEnvironment(environment);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("applies a desired state as a diff and reports processes", async () => {
    const result = await client.post("/v1/apply", state({ web: server, worker }), applyResultBody);
    assert.deepEqual(result.added.sort(), ["web", "worker"]);
    // apply returns once every process is launched; readiness comes after.
    const controller = new AbortController();
    const online = new Set<string>();
    for await (const event of client.events(controller.signal)) {
      if ("snapshotEnd" in event) continue;
      if (event.status === "online") online.add(`${event.serviceId}-${event.processId}`);
      else online.delete(`${event.serviceId}-${event.processId}`);
      if (online.size === 3) break;
    }
    controller.abort();
    const rows = await client.get("/v1/processes", processRowBody.array());
    assert.deepEqual(
      rows.map((r) => `${r.service}-${r.process}`),
      ["web-0", "web-1", "worker-0"],
    );
    assert.equal(statSync(join(stateDir, "corral.sock")).mode & 0o777, 0o600);
    const again = await client.post("/v1/apply", state({ web: server, worker }), applyResultBody);
    assert.deepEqual(again.unchanged.sort(), ["web", "worker"]);
  });

  it("keeps the readings made for ps, the dashboard and Prometheus in its history", async () => {
    const lastPoints = async () => {
      const { series, intervalMs, idleIntervalMs } = await client.get("/v1/history/metrics", metricsHistoryBody);
      assert.ok(intervalMs < idleIntervalMs);
      return new Map(series.map((s) => [`${s.service}-${s.process}`, { t: s.t.at(-1), memoryBytes: s.memoryBytes.at(-1) }]));
    };
    for (const read of [
      async () =>
        (await client.get("/v1/processes", processRowBody.array())).map((r) => [`${r.service}-${r.process}`, r.memoryBytes] as const),
      async () =>
        (await client.get("/v1/services", z.array(z.object({ processes: processRowBody.array() })))).flatMap((s) =>
          s.processes.map((r) => [`${r.service}-${r.process}`, r.memoryBytes] as const),
        ),
      async () =>
        [
          ...(await client.text("/metrics")).matchAll(
            /^corral_process_memory_bytes\{namespace="default",service="(\w+)",process="(\d+)"\} (\d+)$/gm,
          ),
        ].map(([, service, process, bytes]) => [`${service}-${process}`, Number(bytes)] as const),
    ]) {
      // As if the last reading kept were long ago: this one is kept.
      daemon.history.lastSampleAt = 0;
      const read0 = await read();
      assert.deepEqual(
        read0.map(([key]) => key),
        ["web-0", "web-1", "worker-0"],
      );
      const kept = await lastPoints();
      for (const [key, memoryBytes] of read0) {
        assert.ok(memoryBytes !== null && memoryBytes > 0, `${key} has its memory read`);
        assert.deepEqual(kept.get(key), { t: Math.round(daemon.history.lastSampleAt / 100) / 10, memoryBytes }, key);
      }
      // A reading right after is not: at most one per intervalMs.
      await read();
      assert.deepEqual(await lastPoints(), kept);
    }
  });

  it("refuses a bad spec before anything changes, naming the field", async () => {
    await assert.rejects(client.post("/v1/apply", state({ web: { ...server, scale: -1 }, worker })), /scale/);
    await assert.rejects(
      client.post("/v1/apply", state({ web: { ...server, command: "/no/such/program" }, worker })),
      (e: Error & { field?: string }) => e.field === "services.web.command",
    );
    assert.equal((await client.get("/v1/state", desiredStateSchema)).services.web!.scale, 2, "the stored state is unchanged");
  });

  it("serves Prometheus metrics with service labels and HTTP service discovery", async () => {
    const metrics = await client.text("/metrics");
    assert.match(metrics, /corral_process_up\{namespace="default",service="web",process="0"\} 1/);
    assert.match(metrics, /corral_process_memory_bytes\{namespace="default",service="web",process="1"\} \d+/);
    assert.match(metrics, /corral_processes\{namespace="default",status="online"\} 3/);
    assert.match(metrics, /corral_daemon_process_resident_memory_bytes \d+/);
    const targets = await client.get("/v1/discovery/prometheus", discoveryBody);
    assert.equal(targets.length, 2);
    assert.match(targets[0]!.targets[0]!, /^127\.0\.0\.1:\d+$/);
    assert.equal(targets[0]!.labels.mz_orchestrator_tier, "front");
    assert.equal(targets[0]!.labels.__metrics_path__, "/metrics");
  });

  it("streams events as SSE: the snapshot, then changes", async () => {
    const controller = new AbortController();
    const events = client.events(controller.signal);
    const snapshot: string[] = [];
    for (;;) {
      const { value } = await events.next();
      if (!value || "snapshotEnd" in value) break;
      snapshot.push(`${value.serviceId}-${value.processId}:${value.status}`);
    }
    assert.deepEqual(snapshot, ["web-0:online", "web-1:online", "worker-0:online"]);
    await client.post("/v1/services/worker/restart");
    const next = await events.next();
    assert.ok(next.value && !("snapshotEnd" in next.value) && next.value.serviceId === "worker");
    controller.abort();
  });

  it("keeps secrets and never sends a value back", async () => {
    await client.call("PUT", "/v1/secrets/token", { value: "s3cret" });
    assert.deepEqual(await client.get("/v1/secrets", secretIdsBody), ["token"]);
    assert.equal(JSON.stringify(await client.get("/v1/secrets", secretIdsBody)).includes("s3cret"), false);
    await client.call("DELETE", "/v1/secrets/token");
    assert.deepEqual(await client.get("/v1/secrets", secretIdsBody), []);
  });

  it("documents every route in its OpenAPI document", async () => {
    const doc = await client.get("/openapi.json", z.looseObject({ paths: z.record(z.string(), z.unknown()) }));
    assert.deepEqual(doc, JSON.parse(JSON.stringify(openApiDocument())));
    for (const path of [
      "/v1/apply",
      "/v1/services/{id}",
      "/v1/services/{id}/logs",
      "/v1/events",
      "/v1/processes",
      "/metrics",
      "/v1/discovery/prometheus",
      "/v1/secrets/{id}",
      "/v1/shutdown",
    ]) {
      assert.ok(doc.paths[path], `${path} is documented`);
    }
  });

  it("a scrape right after a change reads the change, not the reading of the scrape before it", async () => {
    assert.doesNotMatch(await client.text("/metrics"), /service="worker",process="1"/);
    // apply returns once worker-1 is launched: the next scrape, however soon, has its row.
    await client.post("/v1/apply", state({ web: server, worker: { ...worker, scale: 2 } }), applyResultBody);
    assert.match(await client.text("/metrics"), /corral_process_restarts\{namespace="default",service="worker",process="1"\} 0/);
  });
});
