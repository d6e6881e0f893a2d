import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Service } from "kubernetes-models/v1/Service";
import { CpuLimit, DiskLimit, MemoryLimit } from "../../src/contract/limits.js";
import { ValidationError } from "../../src/contract/errors.js";
import type { ServiceSchedulingConfig } from "../../src/contract/scheduling.js";
import type { ServiceConfig } from "../../src/contract/types.js";
import { renderManifests, type RenderOptions } from "../../src/kubernetes/index.js";
import { renderPodTemplate } from "../../src/kubernetes/manifests.js";
import { validateServiceConfig } from "../../src/contract/validation.js";
import { schemaProblems } from "./schema-check.js";

/** A service using every ServiceConfig field. */
function fullConfig(): ServiceConfig {
  return {
    image: "ghcr.io/example/db:1.2",
    args: (a) => [
      "--listen",
      a.listenAddrs["sql"]!,
      `--index=${a.processIndex}`,
      `--peers=${a.peerAddrs.map((p) => p["sql"]).join(",")}`,
      `--scratch=${a.scratchDirectory}`,
      "--literal=$(HOME)",
    ],
    ports: [{ name: "sql", portHint: 5432 }, { name: "internal-http-metrics" }],
    scale: 3,
    memoryLimit: MemoryLimit.parse("512MiB"),
    cpuLimit: CpuLimit.parse("1.5"),
    diskLimit: DiskLimit.parse("20GiB"),
    disk: true,
    labels: { team: "data" },
    env: { LOG_LEVEL: "info", PRICE: "$5" },
    restartPolicy: "always",
    readiness: { http: { port: "internal-http-metrics", path: "/ready" }, periodMs: 2500, timeoutMs: 500, failureThreshold: 4 },
    stopSignal: "SIGINT",
    terminationGracePeriodMs: 15_500,
    initContainerImage: "busybox:1.36",
    availabilityZones: ["us-east-1a", "us-east-1b"],
    otherReplicasSelector: [{ matchLabels: { cluster: "c1" }, matchExpressions: [{ key: "replica", operator: "NotIn", values: ["r1"] }] }],
    replicasSelector: [{ matchLabels: { cluster: "c1" }, matchExpressions: [{ key: "replica", operator: "Exists" }] }],
    nodeSelector: { "node-pool": "fast" },
    annotations: { "example.com/owner": "team-data" },
  };
}

const scheduling: ServiceSchedulingConfig = {
  multiPodAzAffinityWeight: 50,
  topologySpread: { enabled: true, maxSkew: 2, minDomains: 2, soft: false },
  securityContextEnabled: true,
  softNodesAffinity: false,
  alwaysUseDisk: false,
};

const options: RenderOptions = {
  kubernetesNamespace: "prod",
  namePrefix: "env1-",
  imagePullPolicy: "IfNotPresent",
  serviceAccount: "corral-workloads",
  schedulingConfig: scheduling,
  ephemeralVolumeStorageClass: "fast-ssd",
};

function validateWithKubernetesModels(manifests: { service: object; clusterIpService?: object; statefulSet: object }): void {
  new Service(manifests.service as ConstructorParameters<typeof Service>[0]).validate();
  if (manifests.clusterIpService) new Service(manifests.clusterIpService as ConstructorParameters<typeof Service>[0]).validate();
  new StatefulSet(manifests.statefulSet as ConstructorParameters<typeof StatefulSet>[0]).validate();
}

function assertNoUnknownFields(manifests: { service: object; clusterIpService?: object; statefulSet: object }): void {
  assert.deepEqual(schemaProblems(manifests.service, "V1Service"), []);
  if (manifests.clusterIpService) assert.deepEqual(schemaProblems(manifests.clusterIpService, "V1Service"), []);
  assert.deepEqual(schemaProblems(manifests.statefulSet, "V1StatefulSet"), []);
}

describe("renderManifests", () => {
  test("a service using every field validates against the Kubernetes schemas, with no unknown fields", () => {
    const manifests = renderManifests("default", "db", fullConfig(), options);
    validateWithKubernetesModels(manifests);
    assertNoUnknownFields(manifests);
  });

  test("the schema checks catch what they should", () => {
    const manifests = renderManifests("default", "db", fullConfig(), options);
    const broken = structuredClone(manifests.statefulSet) as {
      spec: { replicas?: unknown; podManagmentPolicy?: string; template: unknown };
    };
    broken.spec.podManagmentPolicy = "Parallel"; // misspelt: an unknown field
    assert.match(schemaProblems(broken, "V1StatefulSet").join("\n"), /podManagmentPolicy: not a field/);
    const missing = structuredClone(manifests.statefulSet) as { spec: { template?: unknown } };
    delete missing.spec.template;
    assert.throws(() => new StatefulSet(missing as ConstructorParameters<typeof StatefulSet>[0]).validate());
  });

  test("minimal services validate too", () => {
    for (const config of [
      { image: "nginx:1", scale: 1 },
      { image: "nginx:1", scale: 2, ports: [{ name: "http" }], readiness: { socket: "http" } },
      { image: "nginx:1", scale: 1, ports: [{ name: "http" }], readiness: { exec: ["true"] }, disk: true },
    ] satisfies ServiceConfig[]) {
      const manifests = renderManifests("ns", "web", config);
      validateWithKubernetesModels(manifests);
      assertNoUnknownFields(manifests);
      // Kubernetes refuses a ClusterIP Service without ports; such a service has no service address.
      assert.equal(manifests.clusterIpService !== undefined, (config.ports?.length ?? 0) > 0);
    }
  });

  test("the ClusterIP Service of the longest object name is still a DNS-1035 label; the StatefulSet keeps the headless one", () => {
    const id = "a".repeat(52 - "ns-".length);
    const { service, clusterIpService, statefulSet } = renderManifests("ns", id, { image: "nginx:1", scale: 1, ports: [{ name: "http" }] });
    const name = clusterIpService?.metadata?.name ?? "";
    assert.equal(name, `${service.metadata?.name}-svc`);
    assert.equal(name.length, 56);
    assert.match(name, /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    // The StatefulSet's serviceName stays the headless Service: the pods' DNS names (and their hash) do not change.
    assert.equal(statefulSet.spec?.serviceName, service.metadata?.name);
  });

  test("maps every field to its Kubernetes counterpart", () => {
    const { service, clusterIpService, statefulSet } = renderManifests("default", "db", fullConfig(), options);
    const name = "env1-default-db";
    const selector = { "app.kubernetes.io/managed-by": "corral", "corral.dev/namespace": "default", "corral.dev/service-id": "db" };

    // Service: headless, selecting the service's pods, one port per named port.
    assert.equal(service.metadata?.name, name);
    assert.equal(service.metadata?.namespace, "prod");
    assert.equal(service.spec?.clusterIP, "None");
    assert.deepEqual(service.spec?.selector, selector);
    assert.equal(service.spec?.publishNotReadyAddresses, true);
    const ports = service.spec?.ports ?? [];
    assert.deepEqual(ports[0], { name: "sql", port: 5432, targetPort: 5432, protocol: "TCP" });
    assert.equal(ports[1]?.name, "internal-http-metrics");
    const metricsPort = ports[1]!.port;
    assert.ok(metricsPort >= 20_000 && metricsPort < 30_000, "a port without a hint gets a number from its name");
    assert.equal(renderManifests("default", "db", fullConfig(), options).service.spec?.ports?.[1]?.port, metricsPort, "deterministically");

    // ClusterIP Service "<name>-svc": the service address. Same selector and ports,
    // a virtual IP, and only Ready pods as endpoints.
    assert.deepEqual(clusterIpService, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: `${name}-svc`, namespace: "prod", labels: service.metadata?.labels },
      spec: { type: "ClusterIP", selector, publishNotReadyAddresses: false, ports },
    });

    // StatefulSet: replicas = scale, Parallel, OnDelete, the service's selector.
    const spec = statefulSet.spec!;
    assert.equal(statefulSet.metadata?.name, name);
    assert.equal(spec.replicas, 3);
    assert.equal(spec.podManagementPolicy, "Parallel");
    assert.deepEqual(spec.updateStrategy, { type: "OnDelete" });
    assert.equal(spec.serviceName, name);
    assert.deepEqual(spec.selector, { matchLabels: selector });
    assert.deepEqual(statefulSet.metadata?.labels, { ...selector, team: "data" });

    // Pod template: corral's labels, the user's labels and annotations, the template hash.
    const meta = spec.template.metadata!;
    assert.deepEqual(meta.labels, { ...selector, team: "data", "corral.dev/scale": "3" });
    assert.equal(meta.annotations?.["example.com/owner"], "team-data");
    assert.match(meta.annotations?.["corral.dev/pod-template-hash"] ?? "", /^[0-9a-f]{64}$/);

    const pod = spec.template.spec!;
    assert.equal(pod.terminationGracePeriodSeconds, 16, "15.5 s rounds up to whole seconds");
    assert.equal(pod.serviceAccountName, "corral-workloads");
    assert.deepEqual(pod.os, { name: "linux" }, "a stop signal needs the pod's OS");
    assert.deepEqual(pod.nodeSelector, { "node-pool": "fast" });
    assert.deepEqual(
      pod.tolerations?.map((t) => t.key),
      ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"],
    );

    const [container] = pod.containers;
    assert.ok(container);
    assert.equal(pod.containers.length, 1);
    assert.equal(container.name, "service");
    assert.equal(container.image, "ghcr.io/example/db:1.2");
    assert.equal(container.imagePullPolicy, "IfNotPresent");
    // Requests equal limits; memory in bytes, CPU in millicores.
    assert.deepEqual(container.resources, {
      limits: { cpu: "1500m", memory: String(512 * 1024 ** 2) },
      requests: { cpu: "1500m", memory: String(512 * 1024 ** 2) },
    });
    assert.deepEqual(container.ports, [
      { containerPort: 5432, protocol: "TCP", name: "sql" },
      { containerPort: metricsPort, protocol: "TCP" }, // longer than 15 characters: no container port name
    ]);
    // Args: listen on all interfaces; peers by stable DNS name; the index filled in by the pod; "$" escaped.
    const peers = [0, 1, 2].map((i) => `${name}-${i}.${name}.prod.svc.cluster.local:5432`).join(",");
    assert.deepEqual(container.args, [
      "--listen",
      "0.0.0.0:5432",
      "--index=$(CORRAL_PROCESS_INDEX)",
      `--peers=${peers}`,
      "--scratch=/scratch",
      "--literal=$$(HOME)",
    ]);
    assert.deepEqual(container.env, [
      { name: "LOG_LEVEL", value: "info" },
      { name: "PRICE", value: "$$5" },
      { name: "CORRAL_PROCESS_INDEX", valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } },
    ]);
    assert.deepEqual(container.readinessProbe, {
      httpGet: { port: metricsPort, path: "/ready" },
      periodSeconds: 3,
      timeoutSeconds: 1,
      failureThreshold: 4,
    });
    assert.deepEqual(container.lifecycle, { stopSignal: "SIGINT" });
    assert.deepEqual(container.securityContext, {
      privileged: false,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      seccompProfile: { type: "RuntimeDefault" },
      capabilities: { drop: ["ALL"] },
    });
    assert.deepEqual(container.volumeMounts, [{ name: "scratch", mountPath: "/scratch" }]);

    // Scratch disk: an ephemeral volume sized by diskLimit.
    assert.deepEqual(pod.volumes, [
      {
        name: "scratch",
        ephemeral: {
          volumeClaimTemplate: {
            spec: {
              accessModes: ["ReadWriteOnce"],
              resources: { requests: { storage: String(20 * 1024 ** 3) } },
              storageClassName: "fast-ssd",
            },
          },
        },
      },
    ]);

    // Init container: its image, the same resources.
    assert.equal(pod.initContainers?.length, 1);
    assert.equal(pod.initContainers?.[0]?.image, "busybox:1.36");
    assert.deepEqual(pod.initContainers?.[0]?.resources, container.resources);

    // Placement: zones as required node affinity, other replicas as anti-affinity per host,
    // replicas as topology spread per zone, the service's pods drawn to one zone.
    const affinity = pod.affinity!;
    assert.deepEqual(affinity.nodeAffinity, {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: "materialize.cloud/availability-zone", operator: "In", values: ["us-east-1a", "us-east-1b"] }] },
        ],
      },
    });
    assert.deepEqual(affinity.podAntiAffinity, {
      requiredDuringSchedulingIgnoredDuringExecution: [
        {
          labelSelector: {
            matchLabels: { cluster: "c1", "corral.dev/namespace": "default" },
            matchExpressions: [{ key: "replica", operator: "NotIn", values: ["r1"] }],
          },
          topologyKey: "kubernetes.io/hostname",
        },
      ],
    });
    assert.deepEqual(affinity.podAffinity, {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 50, podAffinityTerm: { labelSelector: { matchLabels: selector }, topologyKey: "topology.kubernetes.io/zone" } },
      ],
    });
    assert.deepEqual(pod.topologySpreadConstraints, [
      {
        labelSelector: {
          matchLabels: { cluster: "c1", "corral.dev/namespace": "default" },
          matchExpressions: [{ key: "replica", operator: "Exists" }],
        },
        maxSkew: 2,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "DoNotSchedule",
        minDomains: 2,
      },
    ]);
  });

  test("soft scheduling turns node requirements into preferences", () => {
    const soft: RenderOptions = {
      schedulingConfig: {
        softNodesAffinity: true,
        topologySpread: { enabled: true, soft: true, minDomains: 3, ignoreNonSingularScale: true },
      },
    };
    const config = { ...fullConfig(), scale: 1 };
    const manifests = renderManifests("default", "db", config, soft);
    validateWithKubernetesModels(manifests);
    assertNoUnknownFields(manifests);
    const pod = manifests.statefulSet.spec!.template.spec!;
    assert.equal(pod.nodeSelector, undefined);
    assert.deepEqual(pod.affinity?.nodeAffinity, {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          preference: {
            matchExpressions: [
              { key: "materialize.cloud/availability-zone", operator: "In", values: ["us-east-1a", "us-east-1b"] },
              { key: "node-pool", operator: "In", values: ["fast"] },
            ],
          },
        },
      ],
    });
    const [constraint] = pod.topologySpreadConstraints ?? [];
    assert.equal(constraint?.whenUnsatisfiable, "ScheduleAnyway");
    assert.equal(constraint?.minDomains, undefined, "Kubernetes rejects minDomains with ScheduleAnyway");
    assert.deepEqual(constraint?.labelSelector?.matchExpressions?.at(-1), { key: "corral.dev/scale", operator: "In", values: ["1"] });
    // ignoreNonSingularScale: a service of more than one process is not spread.
    const scaled = renderManifests("default", "db", { ...config, scale: 2 }, soft);
    assert.equal(scaled.statefulSet.spec!.template.spec!.topologySpreadConstraints, undefined);
  });

  test("readiness probes: socket to tcpSocket, exec to exec; none without readiness", () => {
    const base = { image: "x:1", scale: 1, ports: [{ name: "sql", portHint: 6875 }] };
    const socket = renderManifests("n", "s", { ...base, readiness: { socket: "sql" } }).statefulSet.spec!.template.spec!.containers[0]!;
    assert.deepEqual(socket.readinessProbe, { tcpSocket: { port: 6875 }, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 3 });
    const exec = renderManifests("n", "s", { ...base, readiness: { exec: ["pg_isready", "-p", "6875"], periodMs: 10_000 } }).statefulSet
      .spec!.template.spec!.containers[0]!;
    assert.deepEqual(exec.readinessProbe, {
      exec: { command: ["pg_isready", "-p", "6875"] },
      periodSeconds: 10,
      timeoutSeconds: 1,
      failureThreshold: 3,
    });
    const none = renderManifests("n", "s", base).statefulSet.spec!.template.spec!.containers[0]!;
    assert.equal(none.readinessProbe, undefined);
    assert.equal(none.lifecycle, undefined, "SIGTERM is Kubernetes' own default: nothing to map");
    assert.equal(none.env, undefined, "args that do not use the index need no env var");
  });

  test("liveness and startup probes: livenessProbe and startupProbe, valid against the schemas; logLine is refused", () => {
    const base = {
      image: "x:1",
      scale: 1,
      ports: [
        { name: "http", portHint: 8080 },
        { name: "sql", portHint: 6875 },
      ],
    };
    const manifests = renderManifests("n", "s", {
      ...base,
      readiness: { http: { port: "http", path: "/ready" } },
      liveness: { http: { port: "http", path: "/healthz" }, periodMs: 5000, timeoutMs: 2000, failureThreshold: 4, initialDelayMs: 1500 },
      startup: { socket: "sql", periodMs: 2000, deadlineMs: 61_000 },
    });
    const container = manifests.statefulSet.spec!.template.spec!.containers[0]!;
    assert.deepEqual(container.livenessProbe, {
      httpGet: { port: 8080, path: "/healthz" },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 4,
      initialDelaySeconds: 2,
    });
    // 31 × 2 s = 62 s: the kubelet waits at least the deadline.
    assert.deepEqual(container.startupProbe, { tcpSocket: { port: 6875 }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 31 });
    assert.deepEqual(container.readinessProbe?.httpGet, { port: 8080, path: "/ready" });
    validateWithKubernetesModels(manifests);
    assertNoUnknownFields(manifests);
    const exec = renderManifests("n", "s", { ...base, liveness: { exec: ["pg_isready"] } }).statefulSet.spec!.template.spec!.containers[0]!;
    assert.deepEqual(exec.livenessProbe, { exec: { command: ["pg_isready"] }, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 3 });
    for (const field of ["readiness", "startup"] as const)
      assert.throws(
        () => renderManifests("n", "s", { ...base, [field]: { logLine: "ready" } }),
        (error: Error) => error.message.includes(`${field}.logLine`) && /cannot read the container's log lines/.test(error.message),
      );
  });

  test("is pure and deterministic; the hash ignores only the scale label", () => {
    const a = renderManifests("default", "db", fullConfig(), options);
    const b = renderManifests("default", "db", fullConfig(), options);
    assert.deepEqual(a, b);
    const normalized = validateServiceConfig(fullConfig());
    const at3 = renderPodTemplate("default", "db", normalized, 3, options);
    assert.equal(at3.hash, a.statefulSet.spec!.template.metadata!.annotations!["corral.dev/pod-template-hash"]);
    const noPeers = validateServiceConfig({ ...fullConfig(), args: () => ["--static"] });
    assert.equal(
      renderPodTemplate("default", "db", noPeers, 3, options).hash,
      renderPodTemplate("default", "db", noPeers, 5, options).hash,
    );
    assert.notEqual(
      at3.hash,
      renderPodTemplate("default", "db", validateServiceConfig({ ...fullConfig(), image: "ghcr.io/example/db:1.3" }), 3, options).hash,
    );
  });

  test("refuses bad input with ValidationError", () => {
    const ok: ServiceConfig = { image: "x:1", scale: 1 };
    assert.throws(() => renderManifests("default", "Bad_Id", ok), ValidationError);
    assert.throws(() => renderManifests("default", "db", { ...ok, scale: -1 }), ValidationError);
    assert.throws(() => renderManifests("default", "db", { ...ok, ports: [{ name: "a" }, { name: "a" }] }), ValidationError);
    assert.throws(() => renderManifests("default", "db", { ...ok, labels: { "corral.dev/namespace": "x" } }), /reserved/);
    assert.throws(() => renderManifests("9lives", "db", ok), /starts with a letter/);
    assert.throws(() => renderManifests("default", "a".repeat(50), ok), /at most 52/);
    assert.throws(
      () =>
        renderManifests("default", "db", { ...ok, scale: 2, ports: [{ name: "p" }], args: (a) => [a.peerAddrs[a.processIndex]!["p"]!] }),
      /may use processIndex only by printing it/,
    );
  });

  test("scale 0 (a stopped service) renders a StatefulSet of 0 replicas whose template runs what process 0 would", () => {
    // Without the peer list (which is empty at scale 0): the rest of the args are process 0's.
    const config: ServiceConfig = {
      ...fullConfig(),
      scale: 0,
      args: (a) => ["--listen", a.listenAddrs["sql"]!, `--index=${a.processIndex}`],
    };
    const { statefulSet } = renderManifests("default", "db", config);
    assert.equal(statefulSet.spec!.replicas, 0);
    assert.deepEqual(schemaProblems(statefulSet, "V1StatefulSet"), []);
    const one = renderManifests("default", "db", { ...config, scale: 1 }).statefulSet;
    assert.deepEqual(statefulSet.spec!.template.spec!.containers[0]!.args, one.spec!.template.spec!.containers[0]!.args);
  });
});
