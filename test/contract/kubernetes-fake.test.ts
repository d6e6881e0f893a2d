// The contract suite on the Kubernetes backend against the in-process fake API
// server (test/kubernetes/fake-api-server.ts), one fake per test.
//
// The fake runs no containers. A small simulated kubelet below stands in for
// them: a new pod starts running but not Ready, then becomes Ready on the next
// turn of the event loop (as a container without a readiness probe does), and
// its "program" runs: the printer writes its line to the pod log. A crash is a
// terminated container (exit 1) that the kubelet restarts in the same pod with
// restartCount + 1.
import { loadClientNode } from "../../src/kubernetes/client.js";
import { KubernetesOrchestrator } from "../../src/kubernetes/index.js";
import { CONTAINER_NAME, POD_INDEX_LABEL } from "../../src/kubernetes/names.js";
import { FakeKubernetes, type StoredObject } from "../kubernetes/fake-api-server.js";
import type { Backend, BackendHarness } from "./harness.js";
import { contractSuite } from "./suite.js";

const K8S_NAMESPACE = "corral-contract";
const SLEEPER = "corral.test/sleeper:1";
const PRINTER = "corral.test/printer:1";

interface ContainerSpec {
  name?: string;
  image?: string;
  args?: string[];
  env?: { name: string; value?: string }[];
}

/** What the kubelet would pass the program: $(VAR) expanded from the container's env and the pod index, "$$" as "$". */
function expandedArgs(pod: StoredObject, container: ContainerSpec): string[] {
  const env = new Map<string, string>();
  for (const e of container.env ?? []) if (e.value !== undefined) env.set(e.name, e.value);
  env.set("CORRAL_PROCESS_INDEX", pod.metadata.labels?.[POD_INDEX_LABEL] ?? "");
  return (container.args ?? []).map((arg) =>
    arg.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name?: string) => (name === undefined ? "$" : (env.get(name) ?? all))),
  );
}

function mainContainer(pod: StoredObject): ContainerSpec | undefined {
  const containers = (pod.spec as { containers?: ContainerSpec[] } | undefined)?.containers ?? [];
  return containers.find((c) => c.name === CONTAINER_NAME) ?? containers[0];
}

/** The simulated container starting: the printer prints the argument after --print. */
function runProgram(fake: FakeKubernetes, pod: StoredObject): void {
  const container = mainContainer(pod);
  if (container?.image !== PRINTER) return;
  const args = expandedArgs(pod, container);
  const at = args.indexOf("--print");
  if (at !== -1 && args[at + 1] !== undefined) fake.appendLog(pod.metadata.namespace, pod.metadata.name, args[at + 1]!);
}

function restartCountOf(pod: StoredObject): number {
  return (pod.status as { containerStatuses?: { restartCount?: number }[] } | undefined)?.containerStatuses?.[0]?.restartCount ?? 0;
}

const fakeBackend: Backend = {
  name: "the Kubernetes backend (fake API server)",
  skip: false,
  boundMs: 10_000,
  async start(): Promise<BackendHarness> {
    await loadClientNode();
    const fake = await FakeKubernetes.start();
    const orchestrators: KubernetesOrchestrator[] = [];
    let closed = false;

    // The simulated kubelet: every change lands on a later turn, never inside the API call that caused it.
    fake.autoReady = false;
    const later = (pod: StoredObject, work: (current: StoredObject) => void) =>
      setImmediate(() => {
        const current = fake.pod(pod.metadata.namespace, pod.metadata.name);
        if (!closed && current?.metadata.uid === pod.metadata.uid) work(current);
      });
    fake.on("pod-created", (pod: StoredObject) =>
      later(pod, (current) => {
        runProgram(fake, current);
        fake.setPodStatus(K8S_NAMESPACE, current.metadata.name, { ready: true, restartCount: restartCountOf(current) });
      }),
    );
    const podName = (namespace: string, id: string, i: number) => `${namespace}-${id}-${i}`;
    const podOf = (namespace: string, id: string, i: number): StoredObject => {
      const pod = fake.pod(K8S_NAMESPACE, podName(namespace, id, i));
      if (!pod) throw new Error(`no pod ${podName(namespace, id, i)} on the fake`);
      return pod;
    };

    return {
      async create(options = {}) {
        const orchestrator = new KubernetesOrchestrator({
          kubeconfig: fake.kubeConfig(K8S_NAMESPACE),
          pollIntervalMs: 2,
          rolloutTimeoutMs: 10_000,
          stopTimeoutMs: 10_000,
          retry: { attempts: 4, initialDelayMs: 1, maxDelayMs: 5 },
          ...options,
        });
        orchestrators.push(orchestrator);
        return orchestrator;
      },
      image: (kind) =>
        kind === "printer" ? { image: PRINTER, args: (a) => ["--print", `out-line ${a.processIndex}`] } : { image: SLEEPER },
      async identity(namespace, id, i) {
        return podOf(namespace, id, i).metadata.uid;
      },
      async crash(namespace, id, i) {
        const pod = podOf(namespace, id, i);
        const restarts = restartCountOf(pod);
        fake.setPodStatus(K8S_NAMESPACE, pod.metadata.name, {
          ready: false,
          restartCount: restarts,
          terminated: { exitCode: 1, reason: "Error" },
        });
        later(pod, (current) => {
          runProgram(fake, current);
          fake.setPodStatus(K8S_NAMESPACE, current.metadata.name, {
            ready: true,
            restartCount: restarts + 1,
            lastTerminated: { exitCode: 1, reason: "Error" },
          });
        });
      },
      async footprint() {
        const objects = Object.entries(fake.objects).flatMap(([kind, store]) => [...store.keys()].map((k) => `${kind}: ${k}`));
        const writes = fake.requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path}`);
        return [...objects.sort(), ...writes];
      },
      async cleanup() {
        closed = true;
        await Promise.allSettled(orchestrators.map((o) => o.close()));
        await fake.close();
      },
    };
  },
};

contractSuite(fakeBackend);
