import { setTimeout as sleep } from "node:timers/promises";
import type { ServiceEvent } from "../contract/types.js";
import type { KubeClient, RawWatchEvent } from "./client.js";
import { isTransient, statusOf, toApiError } from "./errors.js";
import { KUBERNETES_ORCHESTRATOR_DEFAULTS } from "../contract/defaults.js";
import { ResyncBuffer } from "../util/resync-buffer.js";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, NAMESPACE_LABEL, labelSelectorString, objectName, podIndex } from "./names.js";
import { podToEvent, sameState, serviceIdOf } from "./pod-status.js";
import { type PodLike, podSchema, watchErrorSchema } from "./wire.js";
import { reportSurvivable } from "../util/diagnostics.js";

export interface PodWatchOptions {
  client: KubeClient;
  namespace: string;
  namePrefix: string;
  /** Events a consumer may fall behind before it is resynchronised (default 10 000). */
  maxBuffered?: number;
  /** Longest pause between attempts after a failed list or watch (default 10 s). */
  maxBackoffMs?: number;
  signal?: AbortSignal;
  /** Called once the watch has ended, whatever the reason. */
  onClose?: () => void;
}

type WatchEnd = "expired" | "closed" | { error: unknown };

/**
 * The status of every process of a corral namespace from a pod list followed by
 * a pod watch: a snapshot first (one event per pod), then each change. When the
 * watch's resourceVersion expires (410 Gone), the pods are listed again and a
 * fresh snapshot follows; pods gone meanwhile get an offline event.
 */
export class PodWatch {
  readonly #o: PodWatchOptions;
  readonly #selector: string;
  readonly #state = new Map<string, ServiceEvent>();
  readonly buffer: ResyncBuffer<ServiceEvent>;
  #controller: AbortController | undefined;
  #stopped = false;
  readonly #stop = new AbortController();

  constructor(options: PodWatchOptions) {
    this.#o = options;
    this.#selector = labelSelectorString({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [NAMESPACE_LABEL]: options.namespace });
    this.buffer = new ResyncBuffer<ServiceEvent>(
      () => this.#snapshot(),
      options.maxBuffered ?? KUBERNETES_ORCHESTRATOR_DEFAULTS.watchBufferSize,
      () => this.stop(),
    );
    if (options.signal?.aborted) this.stop();
    else options.signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (!this.#stopped) void this.#run();
  }

  readonly #onAbort = (): void => this.stop();

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#o.signal?.removeEventListener("abort", this.#onAbort);
    this.#stop.abort();
    this.#controller?.abort();
    this.buffer.close();
    this.#o.onClose?.();
  }

  #snapshot(): ServiceEvent[] {
    return [...this.#state.values()].sort((a, b) =>
      a.serviceId === b.serviceId ? a.processId - b.processId : a.serviceId < b.serviceId ? -1 : 1,
    );
  }

  /** Service id and process index of a pod of this namespace and prefix; undefined for anything else. */
  #identify(pod: PodLike): { key: string; serviceId: string; processId: number } | undefined {
    const serviceId = serviceIdOf(pod);
    const name = pod.metadata?.name;
    if (serviceId === undefined || name === undefined) return undefined;
    let owner: string;
    try {
      owner = objectName(this.#o.namePrefix, this.#o.namespace, serviceId);
    } catch {
      return undefined; // a service label that is no valid id: not a pod corral made
    }
    const processId = podIndex(owner, name);
    return processId === undefined ? undefined : { key: name, serviceId, processId };
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        const { items, resourceVersion } = await this.#o.client.listPods(this.#selector);
        if (this.#stopped) return;
        this.#resync(items);
        failures = 0;
        let rv = resourceVersion;
        while (!this.#stopped) {
          const started = Date.now();
          const end = await this.#watchOnce(rv, (next) => (rv = next));
          if (end === "expired") break;
          if (end === "closed") {
            // A server (or proxy) that closes every watch at once must not get a tight loop of requests.
            if (Date.now() - started < 1000) await this.#backoff(++failures);
            else failures = 0;
            continue;
          }
          const status = statusOf(end.error);
          if (status === 410) break;
          if (status !== undefined && !isTransient(end.error)) {
            this.buffer.close(toApiError(end.error, { verb: "watch", resource: "pods", namespace: this.#o.client.namespace }));
            return;
          }
          failures++;
          if (failures > 3) break; // relist: the stream may have missed more than a resourceVersion can recover
          await this.#backoff(failures);
        }
      } catch (error) {
        // Refused (403, 401, ...) rather than unavailable: retrying cannot help, so the consumer hears of it.
        if (!isTransient(error)) {
          this.buffer.close(error);
          return;
        }
        failures++;
        await this.#backoff(failures);
      }
    }
  }

  async #backoff(failures: number): Promise<void> {
    const ceiling = Math.min(this.#o.maxBackoffMs ?? 10_000, 100 * 2 ** Math.min(failures, 10));
    try {
      await sleep(Math.random() * ceiling, undefined, { signal: this.#stop.signal });
    } catch {
      // The sleep was aborted: the watch is stopping, and #run sees it.
    }
  }

  /** A fresh snapshot: every current pod, whether or not it changed, and an offline event for pods gone. */
  #resync(pods: PodLike[]): void {
    const seen = new Set<string>();
    const known = pods.flatMap((pod) => {
      const id = this.#identify(pod);
      return id ? [{ id, pod }] : [];
    });
    // In process order, not the API server's name order ("-10" before "-2").
    known.sort((a, b) => (a.id.serviceId === b.id.serviceId ? a.id.processId - b.id.processId : a.id.serviceId < b.id.serviceId ? -1 : 1));
    for (const { id, pod } of known) {
      seen.add(id.key);
      const event = podToEvent(id.serviceId, id.processId, pod);
      this.#state.set(id.key, event);
      this.buffer.push(event);
    }
    for (const [key, last] of this.#state) {
      if (seen.has(key)) continue;
      this.#state.delete(key);
      this.buffer.push(goneEvent(last));
    }
  }

  /** Applies one watch event; "expired" when the watch must start over from a list. Returns the resourceVersion it carried. */
  #apply(event: RawWatchEvent): "expired" | { resourceVersion?: string } {
    if (event.type === "ERROR") return watchErrorSchema.safeParse(event.object).data?.code === 410 ? "expired" : {};
    const parsed = podSchema.safeParse(event.object);
    if (!parsed.success) {
      reportSurvivable("kubernetes.watch", "parse pod", parsed.error, { namespace: this.#o.namespace, type: event.type });
      return {};
    }
    const pod = parsed.data;
    const resourceVersion = pod.metadata?.resourceVersion;
    const carried = resourceVersion === undefined ? {} : { resourceVersion };
    if (event.type === "BOOKMARK") return carried;
    const id = this.#identify(pod);
    if (!id) return carried;
    const last = this.#state.get(id.key);
    if (event.type === "DELETED") {
      if (last) {
        this.#state.delete(id.key);
        this.buffer.push(goneEvent(last));
      }
      return carried;
    }
    const next = podToEvent(id.serviceId, id.processId, pod);
    this.#state.set(id.key, next);
    if (!last || !sameState(last, next)) this.buffer.push(next);
    return carried;
  }

  #watchOnce(resourceVersion: string | undefined, advance: (rv: string) => void): Promise<WatchEnd> {
    return new Promise<WatchEnd>((resolve) => {
      let expired = false;
      let settled = false;
      const finish = (end: WatchEnd) => {
        if (settled) return;
        settled = true;
        resolve(end);
      };
      this.#o.client
        .watchPods(
          this.#selector,
          resourceVersion,
          (event) => {
            if (this.#stopped || expired) return;
            const applied = this.#apply(event);
            if (applied === "expired") {
              expired = true;
              this.#controller?.abort();
              finish("expired");
              return;
            }
            if (applied.resourceVersion !== undefined) advance(applied.resourceVersion);
          },
          (error: unknown) => {
            if (expired) return finish("expired");
            if (error === null || error === undefined || (error instanceof Error && error.name === "AbortError")) return finish("closed");
            finish({ error });
          },
        )
        .then((controller) => {
          this.#controller = controller;
          if (this.#stopped) controller.abort();
        })
        .catch((error: unknown) => finish({ error }));
    });
  }
}

function goneEvent(last: ServiceEvent): ServiceEvent {
  return {
    serviceId: last.serviceId,
    processId: last.processId,
    status: "offline",
    reason: "stopped",
    time: new Date(),
    restartCount: last.restartCount,
  };
}
