// The recent past the dashboard shows after a reload: status events and CPU and
// memory samples of every process, kept in memory by the daemon. Bounded in time
// (HISTORY_DEFAULTS.windowMs) and in count, so a chatty service or a long
// uptime cannot grow the daemon.
import { HISTORY_DEFAULTS } from "../contract/defaults.js";
import type { ServiceEvent } from "../contract/types.js";
import type { ProcessRow } from "./process-row.js";

export interface HistoryLimits {
  windowMs: number;
  maxEvents: number;
  maxSeries: number;
  /** A reading less than this after the last kept one is not kept (see HISTORY_DEFAULTS). */
  sampleIntervalMs: number;
}

/** CPU and memory of one process over time; `t` in seconds since the epoch. */
export interface MetricSeries {
  service: string;
  process: number;
  t: number[];
  cpuNanoCores: (number | null)[];
  memoryBytes: (number | null)[];
}

export class DaemonHistory {
  private readonly events: ServiceEvent[] = [];
  /** Where the live events start in `events` (an array shifted in chunks, never one by one). */
  private head = 0;
  private readonly series = new Map<string, MetricSeries>();
  /** The last event recorded per process: a watch's snapshot repeats it, and is not recorded twice. */
  private readonly last = new Map<string, string>();
  /** When the last reading was kept (ms since the epoch; 0 before the first). */
  lastSampleAt = 0;

  constructor(private readonly limits: HistoryLimits = HISTORY_DEFAULTS) {}

  record(event: ServiceEvent, now = Date.now()): void {
    const key = `${event.serviceId}/${event.processId}`;
    const fingerprint = `${event.time.getTime()} ${event.status} ${event.reason ?? ""} ${event.restartCount} ${event.warning ?? ""}`;
    if (this.last.get(key) === fingerprint) return;
    this.last.set(key, fingerprint);
    this.events.push(event);
    this.trimEvents(now);
  }

  /** Events at or after `since` (ms since the epoch), oldest first; optionally of one service. */
  eventsSince(since = 0, service?: string, now = Date.now()): ServiceEvent[] {
    this.trimEvents(now);
    const out: ServiceEvent[] = [];
    for (let i = this.head; i < this.events.length; i++) {
      const e = this.events[i]!;
      if (e.time.getTime() >= since && (service === undefined || e.serviceId === service)) out.push(e);
    }
    return out;
  }

  /** Keeps one reading of every supervised process's row, unless the last kept one is younger than `sampleIntervalMs`. */
  sample(rows: readonly ProcessRow[], now = Date.now()): void {
    if (this.lastSampleAt !== 0 && now - this.lastSampleAt < this.limits.sampleIntervalMs) return;
    this.lastSampleAt = now;
    const t = Math.round(now / 100) / 10;
    for (const row of rows) {
      const key = `${row.service}/${row.process}`;
      let s = this.series.get(key);
      if (!s) {
        s = { service: row.service, process: row.process, t: [], cpuNanoCores: [], memoryBytes: [] };
        this.series.set(key, s);
      }
      s.t.push(t);
      s.cpuNanoCores.push(row.cpuNanoCores);
      s.memoryBytes.push(row.memoryBytes);
    }
    this.trimSeries(now);
  }

  /** Every series (optionally of one service), trimmed to the window. */
  metrics(service?: string, now = Date.now()): MetricSeries[] {
    this.trimSeries(now);
    return [...this.series.values()]
      .filter((s) => service === undefined || s.service === service)
      .sort((a, b) => a.service.localeCompare(b.service) || a.process - b.process);
  }

  private trimEvents(now: number): void {
    const oldest = now - this.limits.windowMs;
    while (
      this.head < this.events.length &&
      (this.events.length - this.head > this.limits.maxEvents || this.events[this.head]!.time.getTime() < oldest)
    )
      this.head++;
    // Compacted once a good part is dead: amortised O(1) per event.
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events.splice(0, this.head);
      this.head = 0;
    }
  }

  private trimSeries(now: number): void {
    const oldest = (now - this.limits.windowMs) / 1000;
    for (const [key, s] of this.series) {
      let drop = 0;
      while (drop < s.t.length && s.t[drop]! < oldest) drop++;
      if (drop === s.t.length) {
        this.series.delete(key);
        this.last.delete(key);
        continue;
      }
      if (drop > 0) {
        s.t.splice(0, drop);
        s.cpuNanoCores.splice(0, drop);
        s.memoryBytes.splice(0, drop);
      }
    }
    // Too many processes (scaled up and down a lot): the ones sampled longest ago go.
    if (this.series.size > this.limits.maxSeries) {
      const byAge = [...this.series.entries()].sort((a, b) => a[1].t[a[1].t.length - 1]! - b[1].t[b[1].t.length - 1]!);
      for (const [key] of byAge.slice(0, this.series.size - this.limits.maxSeries)) this.series.delete(key);
    }
  }
}
