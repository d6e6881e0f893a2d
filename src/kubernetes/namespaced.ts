import { OrchestratorClosedError, UnknownServiceError, ValidationError } from "../contract/errors.js";
import type { ServiceSchedulingConfig } from "../contract/scheduling.js";
import type {
  LogLine,
  LogOptions,
  NamespacedOrchestrator,
  Service,
  ServiceConfig,
  ServiceEvent,
  ServiceProcessMetrics,
} from "../contract/types.js";
import { validateId } from "../contract/validation.js";
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { KubeClient } from "./client.js";
import { podLogs } from "./logs.js";
import { renderPodTemplate, renderService, validateForKubernetes, type RenderOptions, type RenderedService } from "./manifests.js";
import { fetchMetrics } from "./metrics.js";
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NAMESPACE_LABEL,
  SERVICE_ID_LABEL,
  clusterIpServiceName,
  labelSelectorString,
  objectName,
  podName,
} from "./names.js";
import { replaceChangedPods, waitForPodsGone } from "./rollout.js";
import { PodWatch } from "./watch.js";

/** What every namespace of one KubernetesOrchestrator shares. */
export interface NamespaceContext {
  client: KubeClient;
  render: Omit<RenderOptions, "schedulingConfig">;
  namePrefix: string;
  rolloutTimeoutMs: number;
  stopTimeoutMs: number;
  pollIntervalMs: number;
  watchBufferSize: number;
  isClosed(): boolean;
  /** Stops with the orchestrator. */
  signal: AbortSignal;
}

/**
 * Where one Kubernetes service listens: "<pod>.<service>.<ns>.svc.<domain>:<port>"
 * per process (the headless Service), and "<service>-svc.<ns>.svc.<domain>:<port>"
 * for the whole service (the ClusterIP Service, balanced over the Ready pods).
 */
export class KubernetesService implements Service {
  constructor(
    readonly id: string,
    private readonly hosts: string[],
    private readonly ports: Record<string, number>,
    private readonly serviceHost: string,
  ) {}

  #port(port: string): number {
    const number = Object.hasOwn(this.ports, port) ? this.ports[port] : undefined;
    if (number === undefined) throw new ValidationError("port", `is not a port of service "${this.id}"`, port);
    return number;
  }

  addresses(port: string): string[] {
    const number = this.#port(port);
    return this.hosts.map((host) => `${host}:${number}`);
  }

  serviceAddress(port: string): string {
    return `${this.serviceHost}:${this.#port(port)}`;
  }

  /** The same as serviceAddress: every Kubernetes port is TCP. */
  serviceTcpAddress(port: string): string {
    return this.serviceAddress(port);
  }
}

/** Whether an object's labels say it is this corral service's. */
function ownedBy(metadata: V1ObjectMeta | undefined, namespace: string, id: string): boolean {
  const labels = metadata?.labels ?? {};
  return labels[NAMESPACE_LABEL] === namespace && labels[SERVICE_ID_LABEL] === id;
}

function ownerOf(metadata: V1ObjectMeta | undefined): string {
  const labels = metadata?.labels ?? {};
  return labels[SERVICE_ID_LABEL] === undefined
    ? "something other than corral"
    : `corral service "${labels[NAMESPACE_LABEL]}/${labels[SERVICE_ID_LABEL]}"`;
}

export class NamespacedKubernetesOrchestrator implements NamespacedOrchestrator {
  #queue: Promise<unknown> = Promise.resolve();
  #scheduling: ServiceSchedulingConfig;
  readonly #watches = new Set<PodWatch>();

  constructor(
    private readonly ctx: NamespaceContext,
    readonly namespace: string,
    scheduling: ServiceSchedulingConfig,
  ) {
    this.#scheduling = structuredClone(scheduling);
  }

  /** Runs calls of this namespace one after another, in the order they were made. */
  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.ctx.isClosed()) throw new OrchestratorClosedError();
      return work();
    });
    // The caller gets the failure from `run`; the queue only keeps the order for the calls behind it.
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #checkOpen(): void {
    if (this.ctx.isClosed()) throw new OrchestratorClosedError();
  }

  #name(id: string): string {
    return objectName(this.ctx.namePrefix, this.namespace, id);
  }

  async ensureService(id: string, config: ServiceConfig): Promise<Service> {
    this.#checkOpen();
    validateId("service id", id);
    const normalized = validateForKubernetes(config);
    const options: RenderOptions = { ...this.ctx.render, schedulingConfig: structuredClone(this.#scheduling) };
    // Rendered now, before anything is written: bad input fails here, and the
    // scheduling config in force at the call is the one applied.
    const rendered = renderService(this.namespace, id, normalized, options);
    const hashes = new Map<number, string>([[normalized.scale, rendered.podTemplateHash]]);
    const hashAt = (scale: number): string => {
      let hash = hashes.get(scale);
      if (hash === undefined) {
        try {
          hash = renderPodTemplate(this.namespace, id, normalized, scale, options).hash;
        } catch {
          hash = ""; // args that cannot be rendered at the old scale: the pod is stale
        }
        hashes.set(scale, hash);
      }
      return hash;
    };
    return this.#enqueue(() => this.#ensure(id, rendered, hashAt));
  }

  async #ensure(id: string, rendered: RenderedService, hashAt: (scale: number) => string): Promise<Service> {
    const { client } = this.ctx;
    const existing = await client.getStatefulSet(rendered.name);
    const refuse = (kind: string, name: string, metadata: V1ObjectMeta | undefined) =>
      new Error(
        `${kind} "${name}" in Kubernetes namespace "${client.namespace}" belongs to ${ownerOf(metadata)}; refusing to take it over`,
      );
    if (existing && !ownedBy(existing.metadata, this.namespace, id)) throw refuse("StatefulSet", rendered.name, existing.metadata);
    // The ClusterIP Service's name "<name>-svc" can be another service's headless
    // Service (and the other way round): neither is applied over someone else's.
    const [headless, clusterIp] = await Promise.all([client.getService(rendered.name), client.getService(rendered.clusterIpName)]);
    for (const [name, found] of [
      [rendered.name, headless],
      [rendered.clusterIpName, clusterIp],
    ] as const) {
      if (found && !ownedBy(found.metadata, this.namespace, id)) throw refuse("Service", name, found.metadata);
    }
    const scale = rendered.statefulSet.spec!.replicas!;
    await client.applyService(rendered.service);
    if (rendered.clusterIpService) await client.applyService(rendered.clusterIpService);
    // Its last port removed: Kubernetes keeps no ClusterIP Service without ports.
    else if (clusterIp?.metadata?.uid !== undefined) await client.deleteService(rendered.clusterIpName, clusterIp.metadata.uid);
    await client.applyStatefulSet(rendered.statefulSet);
    const wait = { pollIntervalMs: this.ctx.pollIntervalMs, signal: this.ctx.signal };
    const oldScale = existing?.spec?.replicas ?? 0;
    if (oldScale > scale) {
      await waitForPodsGone(client, { namespace: this.namespace, id, name: rendered.name }, scale, {
        ...wait,
        timeoutMs: this.ctx.stopTimeoutMs,
      });
    }
    // Also on first creation: a new StatefulSet adopts orphaned pods that match its selector.
    await replaceChangedPods(
      client,
      { namespace: this.namespace, id, name: rendered.name, scale, hashAt },
      { ...wait, timeoutMs: this.ctx.rolloutTimeoutMs },
    );
    return new KubernetesService(id, rendered.hosts, rendered.ports, rendered.serviceHost);
  }

  async dropService(id: string): Promise<void> {
    this.#checkOpen();
    validateId("service id", id);
    const name = this.#name(id);
    return this.#enqueue(async () => {
      const { client } = this.ctx;
      const existing = await client.getStatefulSet(name);
      // Never delete what another namespace (or someone else) owns under the same name.
      if (existing && !ownedBy(existing.metadata, this.namespace, id)) return;
      await client.deleteStatefulSet(name);
      // Each Service only if its labels say it is this service's (the ClusterIP
      // name can be another service's headless Service), and only the one read
      // (the uid precondition); one already gone (or never made, by a corral from
      // before the ClusterIP Service) is fine.
      for (const serviceName of [clusterIpServiceName(name), name]) {
        const found = await client.getService(serviceName);
        if (found?.metadata?.uid !== undefined && ownedBy(found.metadata, this.namespace, id))
          await client.deleteService(serviceName, found.metadata.uid);
      }
      await waitForPodsGone(client, { namespace: this.namespace, id, name }, 0, {
        timeoutMs: this.ctx.stopTimeoutMs,
        pollIntervalMs: this.ctx.pollIntervalMs,
        signal: this.ctx.signal,
      });
    });
  }

  async listServices(): Promise<string[]> {
    this.#checkOpen();
    return this.#enqueue(async () => {
      const sets = await this.ctx.client.listStatefulSets(
        labelSelectorString({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [NAMESPACE_LABEL]: this.namespace }),
      );
      const ids = new Set<string>();
      for (const set of sets) {
        const id = set.metadata?.labels?.[SERVICE_ID_LABEL];
        if (id === undefined || set.metadata?.deletionTimestamp !== undefined) continue;
        let expected: string;
        try {
          expected = this.#name(id);
        } catch {
          continue; // a label that is no valid id was not set by corral: not one of our services
        }
        // Same labels, other name prefix: another environment's service.
        if (set.metadata?.name === expected) ids.add(id);
      }
      return [...ids].sort();
    });
  }

  watchServices(opts: { signal?: AbortSignal } = {}): AsyncIterable<ServiceEvent> {
    this.#checkOpen();
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.ctx.signal]) : this.ctx.signal;
    // onClose may run inside the constructor (a signal already aborted), before `watch` is assigned.
    let watch: PodWatch | undefined;
    // eslint-disable-next-line prefer-const -- declared first on purpose: onClose may read it before this assignment
    watch = new PodWatch({
      client: this.ctx.client,
      namespace: this.namespace,
      namePrefix: this.ctx.namePrefix,
      maxBuffered: this.ctx.watchBufferSize,
      signal,
      onClose: () => {
        if (watch) this.#watches.delete(watch);
      },
    });
    if (!watch.buffer.closed) this.#watches.add(watch);
    return watch.buffer;
  }

  async fetchServiceMetrics(id: string): Promise<ServiceProcessMetrics[]> {
    this.#checkOpen();
    validateId("service id", id);
    const name = this.#name(id);
    // Queued like every other call, so metrics right after an ensure see the service.
    return this.#enqueue(async () => {
      const set = await this.ctx.client.getStatefulSet(name);
      if (!set || set.metadata?.labels?.[SERVICE_ID_LABEL] !== id || set.metadata.labels[NAMESPACE_LABEL] !== this.namespace)
        throw new UnknownServiceError(id);
      return fetchMetrics(this.ctx.client, this.namespace, id, name, set.spec?.replicas ?? 0);
    });
  }

  logs(id: string, processIndex: number, opts: LogOptions = {}): AsyncIterable<LogLine> {
    this.#checkOpen();
    validateId("service id", id);
    if (!Number.isSafeInteger(processIndex) || processIndex < 0)
      throw new ValidationError("processIndex", "must be a non-negative integer", processIndex);
    if (opts.tail !== undefined && (!Number.isSafeInteger(opts.tail) || opts.tail < 0))
      throw new ValidationError("tail", "must be a non-negative integer", opts.tail);
    return podLogs(this.ctx.client, podName(this.#name(id), processIndex), opts);
  }

  updateSchedulingConfig(config: ServiceSchedulingConfig): void {
    this.#scheduling = structuredClone(config);
  }

  /** Ends this namespace's watches (the orchestrator is closing). */
  close(): void {
    for (const watch of this.#watches) watch.stop();
  }
}
