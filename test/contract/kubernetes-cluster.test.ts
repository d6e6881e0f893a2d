/**
 * The contract suite on the Kubernetes backend against a real cluster (kind,
 * minikube, ...). It runs only when KUBECONFIG is set and its cluster answers;
 * otherwise the suite is skipped, with the reason. See docs/kubernetes.md.
 *
 * Every test gets a random name prefix (`cc<hex>-`) in the kubeconfig context's
 * namespace (or CORRAL_TEST_NAMESPACE) and drops every service it created at the
 * end, pass or fail. The programs run in CORRAL_TEST_IMAGE (default
 * busybox:1.36; any image with sh, sleep, echo and kill). A crash is simulated by
 * exec-ing `kill 1` in the container: its shell exits 1 on SIGTERM, and the
 * kubelet restarts it in the same pod. CORRAL_TEST_BOUND_MS (default 240 000)
 * bounds every wait for an event.
 *
 * Never run against a cluster so far (none can be reached where corral is built):
 * only the fake API server has run this suite. See the README.
 */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { CoreV1Api, Exec, KubeConfig, VersionApi } from "@kubernetes/client-node";
import { KubernetesOrchestrator } from "../../src/kubernetes/index.js";
import { CONTAINER_NAME } from "../../src/kubernetes/names.js";
import type { Backend, BackendHarness } from "./harness.js";
import { contractSuite } from "./suite.js";

async function reachableCluster(): Promise<KubeConfig | string> {
  if (!process.env["KUBECONFIG"]) return "KUBECONFIG is not set: no cluster to run the contract suite against";
  try {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    const answer = kc.makeApiClient(VersionApi).getCode();
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new Error("no answer from /version within 5 s")), 5_000)),
    );
    try {
      await Promise.race([answer, bound]);
    } finally {
      clearTimeout(timer);
    }
    return kc;
  } catch (error) {
    return `the cluster in KUBECONFIG does not answer: ${error instanceof Error ? error.message : String(error)}`;
  }
}

const cluster = await reachableCluster();
const image = process.env["CORRAL_TEST_IMAGE"] ?? "busybox:1.36";
// PID 1 ignores signals it has no handler for, so the shell traps SIGTERM (exit 1: a crash, and a
// prompt stop on drop) and waits on a child sleep, which a trapped signal interrupts at once.
const LOOP = "trap 'exit 1' TERM; while :; do sleep 3600 & wait $!; done";

const clusterBackend: Backend = {
  name: "the Kubernetes backend (real cluster from KUBECONFIG)",
  skip: typeof cluster === "string" ? cluster : false,
  // Image pulls and pod scheduling take real time.
  boundMs: Number(process.env["CORRAL_TEST_BOUND_MS"] ?? 240_000),
  async start(): Promise<BackendHarness> {
    const kc = cluster as KubeConfig;
    const prefix = `cc${randomBytes(3).toString("hex")}-`;
    const k8sNamespace = process.env["CORRAL_TEST_NAMESPACE"] ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
    const core = kc.makeApiClient(CoreV1Api);
    const orchestrators: KubernetesOrchestrator[] = [];
    const namespaces = new Set<string>();
    const make = async (watchBufferSize?: number) => {
      const o = await KubernetesOrchestrator.create({
        kubeconfig: kc,
        namePrefix: prefix,
        kubernetesNamespace: k8sNamespace,
        rolloutTimeoutMs: 240_000,
        stopTimeoutMs: 240_000,
        pollIntervalMs: 250,
        ...(watchBufferSize !== undefined ? { watchBufferSize } : {}),
      });
      orchestrators.push(o);
      return o;
    };
    const podName = (namespace: string, id: string, i: number) => `${prefix}${namespace}-${id}-${i}`;

    return {
      async create(options = {}) {
        const o = await make(options.watchBufferSize);
        // Remembers the namespaces used, so cleanup can drop what the test created in them.
        return {
          namespace(name: string) {
            const ns = o.namespace(name);
            namespaces.add(name);
            return ns;
          },
        };
      },
      image: (kind) => ({
        image,
        args: kind === "printer" ? (a) => ["sh", "-c", `echo out-line ${a.processIndex}; ${LOOP}`] : () => ["sh", "-c", LOOP],
      }),
      async identity(namespace, id, i) {
        const pod = await core.readNamespacedPod({ name: podName(namespace, id, i), namespace: k8sNamespace });
        return pod.metadata?.uid ?? "";
      },
      async crash(namespace, id, i) {
        // `kill 1` ends the container, and the exec session with it: done when the socket closes.
        const sink = new Writable({ write: (_chunk, _encoding, next) => next() });
        const pod = podName(namespace, id, i);
        const socket = await new Exec(kc)
          .exec(k8sNamespace, pod, CONTAINER_NAME, ["kill", "1"], sink, sink, null, false)
          .catch((error: unknown) => {
            const detail = (error as { message?: unknown })?.message;
            throw new Error(
              `could not exec "kill 1" in pod ${pod} (RBAC must allow "create" on "pods/exec"): ${typeof detail === "string" && detail ? detail : String(error)}`,
            );
          });
        await new Promise<void>((resolve) => {
          if (socket.readyState === socket.CLOSED) return resolve();
          socket.once("close", () => resolve());
        });
      },
      async footprint() {
        const ns = k8sNamespace;
        const names = (items: { metadata?: { name?: string } }[]) =>
          items.map((x) => x.metadata?.name ?? "").filter((n) => n.startsWith(prefix));
        const pods = names((await core.listNamespacedPod({ namespace: ns })).items).map((n) => `pod: ${n}`);
        const services = names((await core.listNamespacedService({ namespace: ns })).items).map((n) => `service: ${n}`);
        return [...pods, ...services].sort();
      },
      async cleanup() {
        try {
          const cleaner = await make();
          for (const name of namespaces) {
            const ns = cleaner.namespace(name);
            for (const id of await ns.listServices().catch(() => [])) await ns.dropService(id).catch(() => {});
          }
        } finally {
          await Promise.allSettled(orchestrators.map((o) => o.close()));
        }
      },
    };
  },
};

contractSuite(clusterBackend);
