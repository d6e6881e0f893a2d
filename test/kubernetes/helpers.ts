import type { TestContext } from "node:test";
import { KubernetesOrchestrator, type KubernetesOrchestratorConfig } from "../../src/kubernetes/index.js";
import type { ServiceEvent } from "../../src/contract/types.js";
import { FakeKubernetes } from "./fake-api-server.js";
import { loadClientNode } from "../../src/kubernetes/client.js";

export const K8S_NAMESPACE = "corral-test";

export interface Setup {
  fake: FakeKubernetes;
  orchestrator: KubernetesOrchestrator;
  /** Another orchestrator on the same fake, closed with the test. */
  another(config?: Partial<KubernetesOrchestratorConfig>): KubernetesOrchestrator;
}

/** A fake API server and an orchestrator on it, both torn down when the test ends, pass or fail. */
export async function setup(t: TestContext, config: Partial<KubernetesOrchestratorConfig> = {}): Promise<Setup> {
  await loadClientNode();
  const fake = await FakeKubernetes.start();
  const orchestrators: KubernetesOrchestrator[] = [];
  t.after(async () => {
    for (const o of orchestrators) await o.close();
    await fake.close();
  });
  const another = (extra: Partial<KubernetesOrchestratorConfig> = {}) => {
    const o = makeOrchestrator(fake, { ...config, ...extra });
    orchestrators.push(o);
    return o;
  };
  return { fake, orchestrator: another(), another };
}

function makeOrchestrator(fake: FakeKubernetes, config: Partial<KubernetesOrchestratorConfig>): KubernetesOrchestrator {
  // setup() loaded the client first, as KubernetesOrchestrator.create() does.
  return new KubernetesOrchestrator({
    kubeconfig: fake.kubeConfig(K8S_NAMESPACE),
    pollIntervalMs: 2,
    rolloutTimeoutMs: 10_000,
    stopTimeoutMs: 10_000,
    retry: { attempts: 4, initialDelayMs: 1, maxDelayMs: 5 },
    ...config,
  });
}

/** Reads `count` events, failing after `timeoutMs` instead of hanging the suite. */
export async function take(events: AsyncIterator<ServiceEvent>, count: number, timeoutMs = 5_000): Promise<ServiceEvent[]> {
  const out: ServiceEvent[] = [];
  await within(timeoutMs, `${count} watch events (got ${out.length})`, async () => {
    while (out.length < count) {
      const next = await events.next();
      if (next.done) throw new Error(`watch ended after ${out.length} events`);
      out.push(next.value);
    }
  });
  return out;
}

/** Reads events until one satisfies `predicate`; returns all read. */
export async function until(
  events: AsyncIterator<ServiceEvent>,
  predicate: (e: ServiceEvent) => boolean,
  timeoutMs = 5_000,
): Promise<ServiceEvent[]> {
  const out: ServiceEvent[] = [];
  await within(timeoutMs, "a matching watch event", async () => {
    for (;;) {
      const next = await events.next();
      if (next.done) throw new Error(`watch ended after ${out.length} events`);
      out.push(next.value);
      if (predicate(next.value)) return;
    }
  });
  return out;
}

export async function within<T>(timeoutMs: number, what: string, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function brief(e: ServiceEvent): string {
  return `${e.serviceId}/${e.processId}:${e.status}${e.reason ? `(${e.reason})` : ""}#${e.restartCount}`;
}
