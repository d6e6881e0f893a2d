import { EventEmitter, once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";

/**
 * A small in-process stand-in for the Kubernetes API server: only the calls corral
 * makes (server-side apply, get, list, watch and delete, with a uid precondition,
 * of Services, StatefulSets, Pods and Secrets; PodMetrics; pod logs), plus a StatefulSet controller that
 * creates and deletes pods at once. Pod status is whatever the test sets. It
 * listens on 127.0.0.1 only.
 */

export type Json = Record<string, unknown>;
type Kind = "services" | "statefulsets" | "pods" | "secrets";

interface Meta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean; apiVersion: string }[];
  [key: string]: unknown;
}
export interface StoredObject {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  spec?: Json;
  status?: Json;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export interface Fault {
  method: string;
  path: RegExp;
  status: number;
  /** How many matching requests fail; Infinity for all. */
  times: number;
  /** Further narrows the requests that fail, by query string. */
  when?: (query: URLSearchParams) => boolean;
  message?: string;
}

export interface PodStatusInput {
  ready?: boolean;
  restartCount?: number;
  /** The container's current state is terminated with this. */
  terminated?: { exitCode: number; reason?: string };
  /** The container waits (e.g. CrashLoopBackOff) after having terminated with `lastTerminated`. */
  waiting?: { reason: string };
  lastTerminated?: { exitCode: number; reason?: string };
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  body: string;
}

interface PodWatcher {
  namespace: string;
  selector: Selector;
  res: ServerResponse;
}

type Selector = { key: string; op: "=" | "!="; value: string }[];

const KINDS: Record<Kind, { kind: string; apiVersion: string }> = {
  services: { kind: "Service", apiVersion: "v1" },
  statefulsets: { kind: "StatefulSet", apiVersion: "apps/v1" },
  pods: { kind: "Pod", apiVersion: "v1" },
  secrets: { kind: "Secret", apiVersion: "v1" },
};

export class FakeKubernetes extends EventEmitter {
  readonly objects: Record<Kind, Map<string, StoredObject>> = {
    services: new Map(),
    statefulsets: new Map(),
    pods: new Map(),
    secrets: new Map(),
  };
  readonly requests: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  /** New pods start Ready (true) or Pending and not ready (false). */
  autoReady = true;
  /** Whether metrics.k8s.io is served (as if metrics-server were installed). */
  metricsEnabled = true;
  readonly podMetrics = new Map<string, { cpu: string; memory: string }>();
  readonly #logs = new Map<string, string[]>();
  readonly #logFollowers = new Map<string, Set<ServerResponse>>();
  readonly #watchers = new Set<PodWatcher>();
  #rv = 100;
  /** Watches from a resourceVersion older than this get 410 Gone. */
  #compactedBefore = 0;
  readonly #history: { rv: number; type: string; object: StoredObject }[] = [];

  private constructor(private readonly server: Server) {
    super();
  }

  static async start(): Promise<FakeKubernetes> {
    const server = createServer();
    const fake = new FakeKubernetes(server);
    server.on("request", (req, res) => fake.#handle(req, res));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return fake;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  kubeConfig(namespace = "corral-test"): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server: this.url, skipTLSVerify: true }],
      users: [{ name: "tester", token: "fake-token" }],
      contexts: [{ name: "fake", cluster: "fake", user: "tester", namespace }],
      currentContext: "fake",
    });
    return kc;
  }

  async close(): Promise<void> {
    for (const w of this.#watchers) w.res.end();
    this.#watchers.clear();
    for (const followers of this.#logFollowers.values()) for (const res of followers) res.end();
    this.#logFollowers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- test controls -------------------------------------------------------

  fail(fault: Omit<Fault, "times"> & { times?: number }): void {
    this.faults.push({ times: 1, ...fault });
  }

  pod(namespace: string, name: string): StoredObject | undefined {
    return this.objects.pods.get(`${namespace}/${name}`);
  }

  podsOf(namespace: string, statefulSet: string): StoredObject[] {
    return [...this.objects.pods.values()]
      .filter((p) => p.metadata.namespace === namespace && p.metadata.ownerReferences?.[0]?.name === statefulSet)
      .sort((a, b) => podOrdinal(a) - podOrdinal(b));
  }

  setPodStatus(namespace: string, name: string, input: PodStatusInput): void {
    const pod = this.pod(namespace, name);
    if (!pod) throw new Error(`no pod ${namespace}/${name}`);
    pod.status = podStatus(input);
    this.#touch("pods", pod, "MODIFIED");
  }

  appendLog(namespace: string, pod: string, line: string, time = new Date()): void {
    const key = `${namespace}/${pod}`;
    const text = `${time.toISOString()} ${line}`;
    const lines = this.#logs.get(key) ?? [];
    lines.push(text);
    this.#logs.set(key, lines);
    for (const res of this.#logFollowers.get(key) ?? []) res.write(`${text}\n`);
  }

  get openPodWatches(): number {
    return this.#watchers.size;
  }

  /** Forgets the event history, as etcd compaction does: watches from any resourceVersion seen so far get 410. */
  compact(): void {
    this.#rv++;
    this.#compactedBefore = this.#rv;
    this.#history.length = 0;
  }

  /** Ends every open pod watch normally, as the API server does when a watch's timeout runs out. */
  closeWatches(): void {
    for (const w of this.#watchers) w.res.end();
    this.#watchers.clear();
  }

  /** Every open pod watch gets 410 Gone, and resourceVersions seen so far become too old to watch from. */
  expireWatches(): void {
    this.#compactedBefore = this.#rv;
    this.#history.length = 0;
    for (const w of this.#watchers) {
      writeEvent(w.res, "ERROR", {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: "too old resource version",
        reason: "Expired",
        code: 410,
      });
      w.res.end();
    }
    this.#watchers.clear();
  }

  // ---- HTTP ---------------------------------------------------------------

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        this.#route(req, res, Buffer.concat(chunks).toString("utf8"));
      } catch (error) {
        sendStatus(res, 500, "InternalError", String(error));
      }
    });
  }

  #route(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const record: RecordedRequest = { method, path: url.pathname, query: url.searchParams, contentType: req.headers["content-type"], body };
    this.requests.push(record);
    this.emit("request", record);

    const fault = this.faults.find(
      (f) => f.times > 0 && f.method === method && f.path.test(url.pathname) && (f.when?.(url.searchParams) ?? true),
    );
    if (fault) {
      fault.times--;
      const reason = fault.status === 403 ? "Forbidden" : fault.status === 503 ? "ServiceUnavailable" : "Failure";
      return sendStatus(res, fault.status, reason, fault.message ?? `injected ${fault.status}`);
    }

    let m = /^\/api\/v1\/namespaces\/([^/]+)\/(services|pods|secrets)(?:\/([^/]+))?(\/log)?$/.exec(url.pathname);
    if (m) {
      const [, ns, kind, name, log] = m as unknown as [string, string, Kind, string | undefined, string | undefined];
      if (log) return this.#log(res, ns, name!, url.searchParams);
      return this.#resource(req, res, method, kind, ns, name, url.searchParams, body);
    }
    if (url.pathname === "/version" && method === "GET") return sendJson(res, 200, { major: "1", minor: "30", gitVersion: "v1.30.0-fake" });
    m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/statefulsets(?:\/([^/]+))?$/.exec(url.pathname);
    if (m) return this.#resource(req, res, method, "statefulsets", m[1]!, m[2], url.searchParams, body);
    m = /^\/apis\/metrics\.k8s\.io\/v1beta1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname);
    if (m && method === "GET") return this.#metrics(res, m[1]!, url.searchParams);
    sendStatus(res, 404, "NotFound", "the server could not find the requested resource");
  }

  #resource(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    kind: Kind,
    ns: string,
    name: string | undefined,
    query: URLSearchParams,
    body: string,
  ): void {
    const store = this.objects[kind];
    if (name === undefined) {
      if (method !== "GET") return sendStatus(res, 405, "MethodNotAllowed", `${method} on a collection is not served by the fake`);
      const selector = parseSelector(query.get("labelSelector") ?? "");
      if (query.get("watch") === "true") {
        if (kind !== "pods") return sendStatus(res, 405, "MethodNotAllowed", "the fake watches pods only");
        return this.#watch(req, res, ns, selector, query.get("resourceVersion"));
      }
      const items = [...store.values()].filter((o) => o.metadata.namespace === ns && matches(selector, o.metadata.labels));
      return sendJson(res, 200, {
        kind: `${KINDS[kind].kind}List`,
        apiVersion: KINDS[kind].apiVersion,
        metadata: { resourceVersion: String(this.#rv) },
        items,
      });
    }
    const key = `${ns}/${name}`;
    const existing = store.get(key);
    if (method === "GET") {
      return existing ? sendJson(res, 200, existing) : sendStatus(res, 404, "NotFound", `${kind} "${name}" not found`);
    }
    if (method === "DELETE") {
      if (!existing) return sendStatus(res, 404, "NotFound", `${kind} "${name}" not found`);
      // DeleteOptions.preconditions.uid: delete only that incarnation, as the API server does (409 otherwise).
      const uid = preconditionUid(body);
      if (uid !== undefined && uid !== existing.metadata.uid) {
        return sendStatus(
          res,
          409,
          "Conflict",
          `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${existing.metadata.uid}`,
        );
      }
      this.#delete(kind, existing);
      return sendJson(res, 200, existing);
    }
    if (method === "PATCH") {
      if (req.headers["content-type"] !== "application/apply-patch+yaml") {
        return sendStatus(res, 415, "UnsupportedMediaType", `the fake serves server-side apply only, not ${req.headers["content-type"]}`);
      }
      if (!query.get("fieldManager")) return sendStatus(res, 400, "BadRequest", "fieldManager is required for apply requests");
      let applied: StoredObject;
      try {
        applied = JSON.parse(body) as StoredObject;
      } catch {
        return sendStatus(res, 400, "BadRequest", "body is not JSON");
      }
      if (applied.kind !== KINDS[kind].kind || applied.apiVersion !== KINDS[kind].apiVersion || applied.metadata?.name !== name) {
        return sendStatus(res, 400, "BadRequest", "apiVersion, kind and metadata.name must match the URL");
      }
      return sendJson(res, 200, this.#apply(kind, ns, applied, existing));
    }
    sendStatus(res, 405, "MethodNotAllowed", `${method} is not served by the fake`);
  }

  /** One forced field manager owns every field it sends: the applied object replaces the previous one, status aside. */
  #apply(kind: Kind, ns: string, applied: StoredObject, existing: StoredObject | undefined): StoredObject {
    const object: StoredObject = {
      ...applied,
      metadata: {
        ...applied.metadata,
        namespace: ns,
        uid: existing?.metadata.uid ?? randomUUID(),
        creationTimestamp: existing?.metadata.creationTimestamp ?? new Date().toISOString(),
        resourceVersion: "",
      },
    };
    if (existing?.status) object.status = existing.status;
    this.#touch(kind, object, existing ? "MODIFIED" : "ADDED");
    if (kind === "statefulsets") this.#reconcile(ns, object.metadata.name);
    return object;
  }

  #delete(kind: Kind, object: StoredObject, byController = false): void {
    if (!this.objects[kind].delete(`${object.metadata.namespace}/${object.metadata.name}`)) return;
    this.#rv++;
    object.metadata.resourceVersion = String(this.#rv);
    if (kind === "pods") {
      this.#publish("DELETED", object);
      this.emit("pod-deleted", object);
      for (const res of this.#logFollowers.get(`${object.metadata.namespace}/${object.metadata.name}`) ?? []) res.end();
      const owner = object.metadata.ownerReferences?.[0]?.name;
      if (owner && !byController) this.#reconcile(object.metadata.namespace, owner);
    }
    if (kind === "statefulsets") this.#reconcile(object.metadata.namespace, object.metadata.name); // garbage-collects its pods
  }

  #touch(kind: Kind, object: StoredObject, type: "ADDED" | "MODIFIED"): void {
    this.#rv++;
    object.metadata.resourceVersion = String(this.#rv);
    this.objects[kind].set(`${object.metadata.namespace}/${object.metadata.name}`, object);
    if (kind === "pods") this.#publish(type, object);
  }

  // ---- the StatefulSet controller ------------------------------------------

  #reconcile(ns: string, name: string): void {
    const set = this.objects.statefulsets.get(`${ns}/${name}`);
    const pods = this.podsOf(ns, name);
    if (!set) {
      for (const pod of pods) this.#delete("pods", pod, true);
      return;
    }
    const spec = set.spec as {
      replicas?: number;
      template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Json };
    };
    const replicas = spec.replicas ?? 1;
    for (const pod of pods) if (podOrdinal(pod) >= replicas) this.#delete("pods", pod, true);
    for (let i = 0; i < replicas; i++) {
      const podName = `${name}-${i}`;
      if (this.objects.pods.has(`${ns}/${podName}`)) continue;
      const pod: StoredObject = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: podName,
          namespace: ns,
          uid: randomUUID(),
          resourceVersion: "",
          creationTimestamp: new Date().toISOString(),
          labels: {
            ...spec.template?.metadata?.labels,
            "apps.kubernetes.io/pod-index": String(i),
            "statefulset.kubernetes.io/pod-name": podName,
          },
          annotations: { ...spec.template?.metadata?.annotations },
          ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name, uid: set.metadata.uid, controller: true }],
        },
        spec: structuredClone(spec.template?.spec ?? {}),
        status: podStatus({ ready: this.autoReady }),
      };
      this.#touch("pods", pod, "ADDED");
      this.emit("pod-created", pod);
    }
  }

  // ---- watch ---------------------------------------------------------------

  #watch(req: IncomingMessage, res: ServerResponse, namespace: string, selector: Selector, resourceVersion: string | null): void {
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    const from = resourceVersion === null || resourceVersion === "" ? undefined : Number(resourceVersion);
    if (from !== undefined && from < this.#compactedBefore) {
      writeEvent(res, "ERROR", {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `too old resource version: ${from}`,
        reason: "Expired",
        code: 410,
      });
      res.end();
      return;
    }
    const watcher: PodWatcher = { namespace, selector, res };
    if (from !== undefined) {
      for (const e of this.#history) if (e.rv > from && this.#wants(watcher, e.object)) writeEvent(res, e.type, e.object);
    }
    this.#watchers.add(watcher);
    const drop = () => this.#watchers.delete(watcher);
    // Not req's "close": that fires once the request body is read, the connection still open.
    res.on("close", drop);
    this.emit("watch-opened", watcher.namespace);
  }

  #wants(w: PodWatcher, pod: StoredObject): boolean {
    return pod.metadata.namespace === w.namespace && matches(w.selector, pod.metadata.labels);
  }

  #publish(type: string, pod: StoredObject): void {
    const object = structuredClone(pod);
    this.#history.push({ rv: this.#rv, type, object });
    for (const w of this.#watchers) if (this.#wants(w, object)) writeEvent(w.res, type, object);
  }

  // ---- logs and metrics ----------------------------------------------------

  #log(res: ServerResponse, ns: string, name: string, query: URLSearchParams): void {
    const key = `${ns}/${name}`;
    if (!this.objects.pods.has(key)) return sendStatus(res, 404, "NotFound", `pods "${name}" not found`);
    let lines = this.#logs.get(key) ?? [];
    const tail = query.get("tailLines");
    if (tail !== null) lines = lines.slice(Math.max(0, lines.length - Number(tail)));
    const since = query.get("sinceTime");
    if (since !== null) lines = lines.filter((l) => l.slice(0, l.indexOf(" ")) >= since);
    const timestamps = query.get("timestamps") === "true";
    const render = (l: string) => (timestamps ? l : l.slice(l.indexOf(" ") + 1));
    res.writeHead(200, { "content-type": "text/plain" });
    for (const l of lines) res.write(`${render(l)}\n`);
    if (query.get("follow") !== "true") return void res.end();
    const followers = this.#logFollowers.get(key) ?? new Set();
    followers.add(res);
    this.#logFollowers.set(key, followers);
    res.on("close", () => followers.delete(res));
    this.emit("log-followed", key);
  }

  #metrics(res: ServerResponse, ns: string, query: URLSearchParams): void {
    if (!this.metricsEnabled) return sendStatus(res, 404, "NotFound", "the server could not find the requested resource");
    const selector = parseSelector(query.get("labelSelector") ?? "");
    const items = [...this.objects.pods.values()]
      .filter((p) => p.metadata.namespace === ns && matches(selector, p.metadata.labels) && this.podMetrics.has(p.metadata.name))
      .map((p) => {
        const usage = this.podMetrics.get(p.metadata.name)!;
        return {
          metadata: { name: p.metadata.name, namespace: ns, labels: p.metadata.labels },
          timestamp: new Date().toISOString(),
          window: "15s",
          containers: [{ name: "service", usage }],
        };
      });
    sendJson(res, 200, { kind: "PodMetricsList", apiVersion: "metrics.k8s.io/v1beta1", metadata: {}, items });
  }
}

function podOrdinal(pod: StoredObject): number {
  return Number(pod.metadata.name.slice(pod.metadata.name.lastIndexOf("-") + 1));
}

export function podStatus(input: PodStatusInput): Json {
  const now = new Date().toISOString();
  const ready = input.ready === true;
  const state = input.terminated
    ? { terminated: { exitCode: input.terminated.exitCode, reason: input.terminated.reason ?? "Error", startedAt: now, finishedAt: now } }
    : input.waiting
      ? { waiting: { reason: input.waiting.reason } }
      : { running: { startedAt: now } };
  const containerStatus: Json = {
    name: "service",
    image: "fake",
    imageID: "",
    ready,
    restartCount: input.restartCount ?? 0,
    started: true,
    state,
  };
  if (input.lastTerminated) {
    containerStatus.lastState = {
      terminated: {
        exitCode: input.lastTerminated.exitCode,
        reason: input.lastTerminated.reason ?? "Error",
        startedAt: now,
        finishedAt: now,
      },
    };
  }
  return {
    phase: input.terminated ? "Running" : ready ? "Running" : "Pending",
    conditions: [{ type: "Ready", status: ready ? "True" : "False", lastTransitionTime: now }],
    containerStatuses: [containerStatus],
  };
}

function parseSelector(input: string): Selector {
  if (input === "") return [];
  return input.split(",").map((part) => {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(part.trim());
    if (!m) throw new Error(`the fake does not understand the label selector "${part}"`);
    return { key: m[1]!, op: m[2] === "!=" ? "!=" : "=", value: m[3]! };
  });
}

function matches(selector: Selector, labels: Record<string, string> | undefined): boolean {
  return selector.every(({ key, op, value }) => (op === "=" ? labels?.[key] === value : labels?.[key] !== value));
}

function writeEvent(res: ServerResponse, type: string, object: unknown): void {
  res.write(`${JSON.stringify({ type, object })}\n`);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The uid of a DELETE body's DeleteOptions.preconditions, if it has one. */
function preconditionUid(body: string): string | undefined {
  if (body.trim() === "") return undefined;
  let options: unknown;
  try {
    options = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof options !== "object" || options === null || !("preconditions" in options)) return undefined;
  const { preconditions } = options;
  if (typeof preconditions !== "object" || preconditions === null || !("uid" in preconditions)) return undefined;
  return typeof preconditions.uid === "string" ? preconditions.uid : undefined;
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code });
}
