import assert from "node:assert/strict";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { ValidationError } from "../../src/contract/errors.js";
import {
  prometheusLabelName,
  removeServiceDiscoveryFile,
  renderServiceDiscovery,
  serviceDiscoveryPath,
  writeServiceDiscoveryFile,
  type ServiceDiscoveryTarget,
  type StaticConfig,
} from "../../src/process/service-discovery.js";
import { TEMP_PREFIX } from "../../src/util/atomic-write.js";
import { withTempDir } from "../helpers.js";

const PROMETHEUS_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

async function readSd(dir: string, namespace: string): Promise<StaticConfig[]> {
  return JSON.parse(await readFile(join(dir, `${namespace}.json`), "utf8")) as StaticConfig[];
}

/** Structural check of a file_sd document, as Prometheus would apply it. */
function assertFileSdShape(configs: unknown): asserts configs is StaticConfig[] {
  assert.ok(Array.isArray(configs), "top level is an array");
  for (const entry of configs as unknown[]) {
    assert.equal(typeof entry, "object");
    const { targets, labels } = entry as StaticConfig;
    assert.ok(Array.isArray(targets) && targets.length > 0 && targets.every((t) => typeof t === "string" && /^[^\s]+:\d+$/.test(t)));
    for (const [name, value] of Object.entries(labels)) {
      assert.match(name, PROMETHEUS_LABEL_NAME);
      assert.equal(typeof value, "string");
    }
  }
}

test("one entry per process and port, with the seed's labels", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-sd-", async (dir) => {
    const targets: ServiceDiscoveryTarget[] = [
      {
        serviceId: "clusterd",
        processIndex: 1,
        port: "metrics",
        address: "127.0.0.1:40002",
        labels: { cluster: "c1", "replica-id": "r1" },
      },
      {
        serviceId: "clusterd",
        processIndex: 0,
        port: "metrics",
        address: "127.0.0.1:40001",
        labels: { cluster: "c1", "replica-id": "r1" },
      },
      {
        serviceId: "clusterd",
        processIndex: 0,
        port: "compute",
        address: "127.0.0.1:40003",
        labels: { cluster: "c1", "replica-id": "r1" },
      },
      { serviceId: "balancer", processIndex: 0, port: "http", address: "127.0.0.1:40004", labels: {} },
    ];
    await writeServiceDiscoveryFile(dir, "env", targets);
    const parsed = await readSd(dir, "env");
    assertFileSdShape(parsed);
    assert.deepEqual(parsed, [
      {
        targets: ["127.0.0.1:40004"],
        labels: {
          mz_orchestrator_namespace: "env",
          mz_orchestrator_ordinal: "0",
          mz_orchestrator_port: "http",
          mz_orchestrator_service_id: "balancer",
        },
      },
      {
        targets: ["127.0.0.1:40003"],
        labels: {
          mz_orchestrator_cluster: "c1",
          mz_orchestrator_namespace: "env",
          mz_orchestrator_ordinal: "0",
          mz_orchestrator_port: "compute",
          mz_orchestrator_replica_id: "r1",
          mz_orchestrator_service_id: "clusterd",
        },
      },
      {
        targets: ["127.0.0.1:40001"],
        labels: {
          mz_orchestrator_cluster: "c1",
          mz_orchestrator_namespace: "env",
          mz_orchestrator_ordinal: "0",
          mz_orchestrator_port: "metrics",
          mz_orchestrator_replica_id: "r1",
          mz_orchestrator_service_id: "clusterd",
        },
      },
      {
        targets: ["127.0.0.1:40002"],
        labels: {
          mz_orchestrator_cluster: "c1",
          mz_orchestrator_namespace: "env",
          mz_orchestrator_ordinal: "1",
          mz_orchestrator_port: "metrics",
          mz_orchestrator_replica_id: "r1",
          mz_orchestrator_service_id: "clusterd",
        },
      },
    ]);
    const mode = (await stat(join(dir, "env.json"))).mode & 0o777;
    assert.equal(mode, 0o644, "readable by a Prometheus running as another user");
    assert.deepEqual(await readdir(dir), ["env.json"], "no temp files left behind");
  });
});

test("label names are sanitized to Prometheus label names", () => {
  assert.equal(prometheusLabelName("app"), "mz_orchestrator_app");
  assert.equal(prometheusLabelName("replica-id"), "mz_orchestrator_replica_id");
  assert.equal(prometheusLabelName("app.kubernetes.io/name"), "mz_orchestrator_app_kubernetes_io_name");
  assert.equal(prometheusLabelName("9lives"), "mz_orchestrator_9lives");
  assert.equal(prometheusLabelName("Mixed_Case-1"), "mz_orchestrator_Mixed_Case_1");
  assert.equal(prometheusLabelName("ünï côdé"), "mz_orchestrator__n__c_d_");
  assert.equal(prometheusLabelName(""), "mz_orchestrator_");

  const labels = {
    "app.kubernetes.io/name": "clusterd",
    "example.com/team-owner": "storage",
    "9lives": "yes",
    "a.b": "first",
    "a-b": "second", // sanitizes like "a.b": the key sorting first ("a-b") wins
    port: "user-port", // would shadow a built-in label: the built-in wins
  };
  const [entry] = renderServiceDiscovery("ns", [{ serviceId: "svc", processIndex: 3, port: "metrics", address: "127.0.0.1:9000", labels }]);
  assert.ok(entry);
  assertFileSdShape([entry]);
  assert.deepEqual(entry.labels, {
    mz_orchestrator_9lives: "yes",
    mz_orchestrator_a_b: "second",
    mz_orchestrator_app_kubernetes_io_name: "clusterd",
    mz_orchestrator_example_com_team_owner: "storage",
    mz_orchestrator_namespace: "ns",
    mz_orchestrator_ordinal: "3",
    mz_orchestrator_port: "metrics",
    mz_orchestrator_service_id: "svc",
  });
});

test("output is deterministic whatever the order of the targets and labels", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-sd-", async (dir) => {
    const targets: ServiceDiscoveryTarget[] = [];
    for (const serviceId of ["b", "a", "c"]) {
      for (let i = 11; i >= 0; i--) {
        for (const port of ["z", "m", "a"]) {
          targets.push({ serviceId, processIndex: i, port, address: `127.0.0.1:${1000 + i}`, labels: { zeta: "1", alpha: "2", mid: "3" } });
        }
      }
    }
    await writeServiceDiscoveryFile(dir, "ns", targets);
    const first = await readFile(join(dir, "ns.json"), "utf8");
    const shuffled = targets
      .map((t, i) => ({ t: { ...t, labels: Object.fromEntries(Object.entries(t.labels).reverse()) }, k: (i * 7919) % targets.length }))
      .sort((x, y) => x.k - y.k)
      .map(({ t }) => t);
    await writeServiceDiscoveryFile(dir, "ns", shuffled);
    assert.equal(await readFile(join(dir, "ns.json"), "utf8"), first);
    const parsed = JSON.parse(first) as StaticConfig[];
    // Numeric order of ordinals (10 after 9), then ports.
    const order = parsed.map(
      (e) => `${e.labels.mz_orchestrator_service_id}/${e.labels.mz_orchestrator_ordinal}/${e.labels.mz_orchestrator_port}`,
    );
    assert.deepEqual(order.slice(0, 4), ["a/0/a", "a/0/m", "a/0/z", "a/1/a"]);
    assert.equal(order[30], "a/10/a");
    assert.ok(first.endsWith("]\n"));
  });
});

test("an empty namespace removes the file; removing a missing file is fine; [] on request", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-sd-", async (dir) => {
    const target: ServiceDiscoveryTarget = { serviceId: "s", processIndex: 0, port: "p", address: "127.0.0.1:1", labels: {} };
    await writeServiceDiscoveryFile(dir, "ns", [target]);
    await writeServiceDiscoveryFile(dir, "other", [target]);
    await writeServiceDiscoveryFile(dir, "ns", []);
    assert.deepEqual(await readdir(dir), ["other.json"]);
    await writeServiceDiscoveryFile(dir, "ns", []);
    await removeServiceDiscoveryFile(dir, "ns");
    await removeServiceDiscoveryFile(dir, "other");
    assert.deepEqual(await readdir(dir), []);

    await writeServiceDiscoveryFile(dir, "kept", [], { removeWhenEmpty: false });
    assert.deepEqual(await readSd(dir, "kept"), []);

    // The directory is created when missing.
    const nested = join(dir, "nested", "sd");
    await writeServiceDiscoveryFile(nested, "ns", [target]);
    assert.equal((await readSd(nested, "ns")).length, 1);
  });
});

test("bad namespaces and targets are rejected before anything is written", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-sd-", async (dir) => {
    const good: ServiceDiscoveryTarget = { serviceId: "s", processIndex: 0, port: "p", address: "127.0.0.1:1", labels: {} };
    for (const namespace of ["../x", "A", "", "a/b", "x".repeat(64)]) {
      await assert.rejects(writeServiceDiscoveryFile(dir, namespace, [good]), ValidationError, namespace);
      await assert.rejects(removeServiceDiscoveryFile(dir, namespace), ValidationError, namespace);
      assert.throws(() => serviceDiscoveryPath(dir, namespace), ValidationError, namespace);
    }
    const bad: ServiceDiscoveryTarget[] = [
      { ...good, serviceId: "../etc" },
      { ...good, port: "Bad" },
      { ...good, processIndex: -1 },
      { ...good, processIndex: 1.5 },
      { ...good, address: "" },
      { ...good, labels: { k: 1 as unknown as string } },
    ];
    for (const target of bad) {
      await assert.rejects(writeServiceDiscoveryFile(dir, "ns", [good, target]), ValidationError, JSON.stringify(target));
    }
    assert.deepEqual(await readdir(dir), []);
  });
});

test("calls for one file apply in call order: the last call's targets win", { timeout: 30_000 }, async (t) => {
  await withTempDir(t, "corral-sd-", async (dir) => {
    const writes: Promise<void>[] = [];
    for (let n = 1; n <= 50; n++) {
      const targets = Array.from({ length: n }, (_, i) => ({
        serviceId: "s",
        processIndex: i,
        port: "p",
        address: `127.0.0.1:${2000 + i}`,
        labels: {},
      }));
      writes.push(writeServiceDiscoveryFile(dir, "ns", targets, { durable: n % 2 === 0 }));
    }
    writes.push(removeServiceDiscoveryFile(dir, "ns"));
    writes.push(
      writeServiceDiscoveryFile(dir, "ns", [{ serviceId: "last", processIndex: 0, port: "p", address: "127.0.0.1:1", labels: {} }]),
    );
    await Promise.all(writes);
    const parsed = await readSd(dir, "ns");
    assert.equal(parsed.length, 1);
    assert.equal(parsed[0]?.labels.mz_orchestrator_service_id, "last");
  });
});

test("a concurrent reader never sees a half-written file across many rewrites", { timeout: 120_000 }, async (t) => {
  await withTempDir(t, "corral-sd-", async (dir) => {
    const path = join(dir, "ns.json");
    const rewrites = 300;
    // Each version n has a different number of targets and labels carrying n, so a
    // torn file shows up as bad JSON or as entries that disagree with each other.
    const version = (n: number): ServiceDiscoveryTarget[] =>
      Array.from({ length: 100 + (n % 37) * 5 }, (_, i) => ({
        serviceId: `svc-${i % 7}`,
        processIndex: i,
        port: "metrics",
        address: `127.0.0.1:${10_000 + i}`,
        labels: { version: String(n), "padding.example.com/filler": "x".repeat(40) },
      }));
    await writeServiceDiscoveryFile(dir, "ns", version(0));

    let done = false;
    let reads = 0;
    const reader = async (): Promise<void> => {
      for (let i = 0; (!done || i < 20) && i < 1_000_000; i++) {
        const text = await readFile(path, "utf8");
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          assert.fail(`read ${text.length} bytes that are not JSON`);
        }
        assertFileSdShape(parsed);
        const versions = new Set(parsed.map((e) => e.labels.mz_orchestrator_version));
        assert.equal(versions.size, 1, "every entry comes from the same write");
        const n = Number([...versions][0]);
        assert.equal(parsed.length, version(n).length, `version ${n} is complete`);
        reads++;
      }
    };
    const readers = [reader(), reader()];
    try {
      for (let n = 1; n <= rewrites; n++) await writeServiceDiscoveryFile(dir, "ns", version(n));
    } finally {
      done = true;
    }
    await Promise.all(readers);
    t.diagnostic(`${rewrites} rewrites, ${reads} complete reads`);
    assert.equal((await readSd(dir, "ns"))[0]?.labels.mz_orchestrator_version, String(rewrites));
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.startsWith(TEMP_PREFIX)),
      [],
    );
  });
});

test("a stale temp file from a crashed writer does not disturb the next write", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-sd-", async (dir) => {
    await writeFile(join(dir, `${TEMP_PREFIX}ns.json-1-deadbeef`), "[{");
    await writeServiceDiscoveryFile(dir, "ns", [{ serviceId: "s", processIndex: 0, port: "p", address: "127.0.0.1:1", labels: {} }]);
    assert.equal((await readSd(dir, "ns")).length, 1);
  });
});
