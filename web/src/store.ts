// The page's picture of the daemon. Status comes from the event stream
// (Server-Sent Events); CPU, memory, uptime and the service addresses' figures
// from one request for the whole service list every few seconds; the recent
// past (events, metric samples) from the daemon's history after every
// snapshot, so a reload shows what happened before. Reconnects by itself:
// EventSource retries, and each new snapshot is followed by a full refresh. While disconnected the clocks stop (`frozenAt`).
import { useEffect, useState } from "preact/hooks";
import { ApiError, get, whenSignedOut } from "./api.js";
import type { EdgeStats, MetricsHistory, ProcessRow, ServiceAddresses, ServiceEntry, ServiceEvent, ServiceSpec } from "./types.js";

export const METRICS_INTERVAL_MS = 3000;
/** How far back the small charts in the tables reach. */
export const HISTORY_SECONDS = 5 * 60;
/** How far back the page keeps samples (the daemon keeps an hour). */
export const KEEP_SECONDS = 60 * 60;
const TIMELINE_LIMIT = 5000;

/** A process as the page knows it; any status string the daemon sends is kept (and shown) as it is. */
export interface Proc extends Omit<ProcessRow, "status"> {
  status: string;
  /** When uptimeSeconds was measured (page clock). */
  measuredAt: number;
  exitCode?: number | null;
  signal?: string | null;
  /** Page clock of the last event: a metrics reading sent before it is older than it. */
  eventAt: number;
  /** Why the process last stopped ("oom-killed", "crashed", ...), kept through the back-off that follows. */
  lastExit?: string;
  /** Ended for good: a job that will not be started again. */
  final?: true;
}

export interface Service {
  id: string;
  spec: ServiceSpec | null;
  procs: Map<number, Proc>;
  /** Its service addresses per port, as the daemon last said (none until the list is in). */
  addresses: ServiceAddresses;
  /** The balancer's figures per port, as the daemon last said. */
  edge: EdgeStats[];
}

/** A service's processes in order. */
export function procsOf(service: Service): Proc[] {
  return [...service.procs.values()].sort((a, b) => a.process - b.process);
}

export interface Samples {
  t: number[];
  /** Percent of one core. */
  cpu: (number | null)[];
  mem: (number | null)[];
}

export interface TimelineEntry extends ServiceEvent {
  seq: number;
}

export type Connection = "connecting" | "live" | "reconnecting" | "signed-out";

class Store {
  environment = "";
  /** What is wrong with the daemon itself (/healthz problems: an unloadable state file, dropped log lines). */
  problems: string[] = [];
  connection: Connection = "connecting";
  /** True once the first snapshot and service list are in. */
  loaded = false;
  /** Snapshots taken so far: one per (re)connection of the event stream. */
  snapshots = 0;
  services = new Map<string, Service>();
  timeline: TimelineEntry[] = [];
  samples = new Map<string, Samples>();
  /** Service → memory limit in bytes, where it has one. */
  memoryLimits: Record<string, number> = {};
  /** Page clock (performance.now) and wall clock when the connection was lost; null while live. */
  frozenAt: { perf: number; wall: number } | null = null;
  private seq = 0;
  private seen = new Set<string>();
  private listeners = new Set<() => void>();
  private notifyQueued = false;
  private source: EventSource | null = null;
  private retryTimer: number | undefined;
  private refreshTimer: number | undefined;

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Coalesces a burst of changes (a snapshot of twenty processes) into one render. */
  changed(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    setTimeout(() => {
      this.notifyQueued = false;
      for (const listener of this.listeners) listener();
    }, 0);
  }

  start(): void {
    whenSignedOut(() => this.setConnection("signed-out"));
    this.connect();
    setInterval(() => void this.pollMetrics(), METRICS_INTERVAL_MS);
  }

  /** True while the page talks to a daemon: actions are enabled, clocks run. */
  get live(): boolean {
    return this.connection === "live";
  }

  private setConnection(connection: Connection): void {
    if (this.connection === connection) return;
    if (this.connection === "signed-out" && connection !== "live") return;
    this.connection = connection;
    if (connection === "live") this.frozenAt = null;
    else if (this.loaded) this.frozenAt ??= { perf: performance.now(), wall: Date.now() };
    this.changed();
  }

  private connect(): void {
    clearTimeout(this.retryTimer);
    this.source?.close();
    const source = new EventSource("/v1/events");
    this.source = source;
    let inSnapshot = true;
    source.addEventListener("open", () => {
      inSnapshot = true;
    });
    source.addEventListener("service", (message) => {
      this.applyEvent(JSON.parse((message as MessageEvent<string>).data) as ServiceEvent, inSnapshot);
    });
    source.addEventListener("snapshot-end", () => {
      inSnapshot = false;
      this.snapshots++;
      void this.refresh().then(() => this.setConnection("live"));
    });
    source.addEventListener("error", () => {
      if (this.connection !== "signed-out") this.setConnection("reconnecting");
      // CONNECTING: the browser retries by itself. CLOSED: an HTTP error (401, 503): find out which, then retry.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        this.retryTimer = window.setTimeout(() => void this.probeThenConnect(), 2000);
      }
    });
  }

  private async probeThenConnect(): Promise<void> {
    try {
      await get("/healthz");
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return; // signed out: the header offers a way back in
    }
    this.connect();
  }

  /** The service list and every process's row: after each snapshot, and when a service appears or goes. */
  async refresh(): Promise<void> {
    const sentAt = performance.now();
    try {
      // Masked by the daemon: env values never reach the page.
      const [health, entries, events, metrics] = await Promise.all([
        get<{ environment: string; problems?: string[] }>("/healthz"),
        get<ServiceEntry[]>("/v1/services?mask=env"),
        get<ServiceEvent[]>("/v1/history/events"),
        get<MetricsHistory>("/v1/history/metrics"),
      ]);
      this.mergeHistory(events, metrics);
      this.environment = health.environment;
      this.problems = health.problems ?? [];
      const next = new Map<string, Service>();
      for (const entry of entries) {
        const old = this.services.get(entry.id);
        next.set(entry.id, {
          id: entry.id,
          spec: entry.spec,
          procs: old?.procs ?? new Map(),
          addresses: entry.serviceAddresses,
          edge: entry.edge,
        });
      }
      this.services = next;
      this.applyRows(
        entries.flatMap((e) => e.processes),
        sentAt,
      );
      this.loaded = true;
      this.changed();
    } catch {
      // Not signed out (that shows in the header): try again, or the page would wait for the next snapshot.
      if (this.connection !== "signed-out") this.scheduleRefresh(2000);
    }
  }

  /** The daemon's recent past, merged with what the page saw itself (each event once). */
  private mergeHistory(events: ServiceEvent[], metrics: MetricsHistory): void {
    for (const event of events) this.addToTimeline(event);
    this.timeline.sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || a.seq - b.seq);
    this.memoryLimits = metrics.memoryLimits;
    for (const series of metrics.series) {
      const key = `${series.service}/${series.process}`;
      const old = this.samples.get(key) ?? { t: [], cpu: [], mem: [] };
      const points = new Map<number, [number | null, number | null]>();
      series.t.forEach((t, i) => {
        const cpu = series.cpuNanoCores[i] ?? null;
        points.set(t, [cpu === null ? null : cpu / 1e7, series.memoryBytes[i] ?? null]);
      });
      old.t.forEach((t, i) => points.set(t, [old.cpu[i] ?? null, old.mem[i] ?? null]));
      const ts = [...points.keys()].sort((a, b) => a - b);
      this.samples.set(key, { t: ts, cpu: ts.map((t) => points.get(t)![0]), mem: ts.map((t) => points.get(t)![1]) });
    }
  }

  private addToTimeline(event: ServiceEvent): void {
    const key = `${event.serviceId}/${event.processId}/${event.time}/${event.status}/${event.reason ?? ""}/${event.restartCount}/${event.warning ?? ""}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.timeline.push({ ...event, seq: ++this.seq });
    if (this.timeline.length > TIMELINE_LIMIT) {
      for (const gone of this.timeline.splice(0, this.timeline.length - TIMELINE_LIMIT))
        this.seen.delete(
          `${gone.serviceId}/${gone.processId}/${gone.time}/${gone.status}/${gone.reason ?? ""}/${gone.restartCount}/${gone.warning ?? ""}`,
        );
    }
  }

  private scheduleRefresh(delayMs = 250): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => void this.refresh(), delayMs);
  }

  async pollMetrics(): Promise<void> {
    if (this.connection !== "live") return;
    const sentAt = performance.now();
    try {
      // The service list rather than /v1/processes: the same rows, and each service address's live figures with them.
      const entries = await get<ServiceEntry[]>("/v1/services?mask=env");
      for (const entry of entries) {
        const service = this.services.get(entry.id);
        if (!service) {
          this.scheduleRefresh(); // one the page has not seen yet: the full refresh brings it in
          continue;
        }
        service.addresses = entry.serviceAddresses;
        service.edge = entry.edge;
      }
      this.applyRows(
        entries.flatMap((e) => e.processes),
        sentAt,
      );
      this.changed();
    } catch {}
  }

  private applyRows(rows: ProcessRow[], sentAt: number): void {
    const now = performance.now();
    const t = Date.now() / 1000;
    const seen = new Set<string>();
    for (const row of rows) {
      const service = this.services.get(row.service);
      if (!service) {
        this.scheduleRefresh();
        continue;
      }
      seen.add(`${row.service}/${row.process}`);
      const old = service.procs.get(row.process);
      // An event that arrived after this request was sent knows better about the status.
      const fresher = old && old.eventAt > sentAt;
      service.procs.set(row.process, {
        ...row,
        ...(fresher ? { status: old.status, reason: old.reason, pid: old.pid, restarts: old.restarts, nextStartAt: old.nextStartAt } : {}),
        uptimeSeconds: fresher ? old.uptimeSeconds : row.uptimeSeconds,
        measuredAt: fresher ? old.measuredAt : now,
        exitCode: old?.exitCode ?? null,
        signal: old?.signal ?? null,
        // The event's detail is as fresh as its status.
        message: fresher ? old.message : row.message,
        ...(old?.lastExit ? { lastExit: old.lastExit } : {}),
        ...(old?.final && (fresher || old.reason === row.reason) ? { final: true as const } : {}),
        eventAt: old?.eventAt ?? 0,
      });
      this.sample(`${row.service}/${row.process}`, t, row.cpuNanoCores === null ? null : row.cpuNanoCores / 1e7, row.memoryBytes);
    }
    // Processes gone since (scaled down, dropped), unless an event came after the request.
    for (const service of this.services.values()) {
      for (const [index, p] of service.procs) if (!seen.has(`${service.id}/${index}`) && p.eventAt <= sentAt) service.procs.delete(index);
    }
  }

  private sample(key: string, t: number, cpu: number | null, mem: number | null): void {
    const s = this.samples.get(key) ?? { t: [], cpu: [], mem: [] };
    const keep = s.t.findIndex((x) => x >= t - KEEP_SECONDS);
    const from = keep === -1 ? s.t.length : keep;
    // New arrays each time, so the charts see a change.
    this.samples.set(key, { t: [...s.t.slice(from), t], cpu: [...s.cpu.slice(from), cpu], mem: [...s.mem.slice(from), mem] });
  }

  private applyEvent(event: ServiceEvent, inSnapshot: boolean): void {
    if (!inSnapshot) this.addToTimeline(event);
    if (event.warning) {
      this.changed();
      return;
    }
    let service = this.services.get(event.serviceId);
    if (!service) {
      service = { id: event.serviceId, spec: null, procs: new Map(), addresses: {}, edge: [] };
      this.services.set(event.serviceId, service);
      this.scheduleRefresh();
    }
    const old = service.procs.get(event.processId);
    const alive = event.status === "online" || event.reason === "starting" || event.reason === "probe-failed";
    const now = performance.now();
    const cameOnline = event.status === "online" && old?.status !== "online";
    service.procs.set(event.processId, {
      service: event.serviceId,
      process: event.processId,
      status: event.status,
      reason: event.status === "online" ? null : (event.reason ?? null),
      pid: alive ? (event.pid ?? null) : null,
      restarts: event.restartCount,
      cpuNanoCores: alive ? (old?.cpuNanoCores ?? null) : null,
      memoryBytes: alive ? (old?.memoryBytes ?? null) : null,
      uptimeSeconds: !alive ? null : cameOnline ? Math.max(0, (Date.now() - Date.parse(event.time)) / 1000) : (old?.uptimeSeconds ?? null),
      measuredAt: cameOnline || !old ? now : old.measuredAt,
      addresses: old?.addresses ?? {},
      tcpAddresses: old?.tcpAddresses ?? {},
      nextStartAt: event.nextStartAt ?? null,
      exitCode: event.exitCode ?? null,
      signal: event.signal ?? null,
      message: event.message ?? null,
      probes: Object.fromEntries(Object.entries(event.probes ?? {}).map(([kind, r]) => [kind, { ...r, lastError: r.lastError ?? null }])),
      crashLooping: event.crashLooping === true || event.reason === "crash-loop",
      eventAt: now,
      ...(lastExit(event, old) ? { lastExit: lastExit(event, old)! } : {}),
      ...(event.final ? { final: true as const } : {}),
    });
    // A stopped process may be one that scaling removed: the list says.
    if (event.reason === "stopped" && !inSnapshot) this.scheduleRefresh();
    this.changed();
  }
}

const WAITING = new Set(["starting", "backoff", "probe-failed"]);

function lastExit(event: ServiceEvent, old: Proc | undefined): string | undefined {
  if (event.status === "online") return undefined;
  if (event.reason && !WAITING.has(event.reason)) return event.reason;
  return event.reason === "backoff" ? old?.lastExit : undefined;
}

export const store = new Store();

/** Re-renders the component on every change of the store. */
export function useStore(): Store {
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(() => setVersion((v) => v + 1)), []);
  return store;
}

/** The time, ticking once a second: uptimes and back-off countdowns move without a request; stopped while disconnected. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return store.frozenAt?.wall ?? now;
}

/** Uptime now, from the last measurement (as of the moment the connection was lost, while it is). */
export function uptimeOf(proc: Proc): number | null {
  const at = store.frozenAt?.perf ?? performance.now();
  return proc.uptimeSeconds === null ? null : proc.uptimeSeconds + Math.max(0, at - proc.measuredAt) / 1000;
}
