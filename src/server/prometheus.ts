// /metrics: per-process status, restarts, CPU and memory with service labels,
// collected at scrape time, plus the daemon's own process metrics.
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { EdgeStats } from "../process/balancer.js";
import type { DaemonNamespace } from "./backend.js";
import { type ProcessRow, processRows } from "./process-table.js";

/** @param measured given each scrape's rows (the daemon's history keeps them) */
export function createMetricsRegistry(
  currentNamespace: () => DaemonNamespace | null,
  measured?: (rows: readonly ProcessRow[]) => void,
): Registry {
  const registry = new Registry();
  // The event-loop lag is sampled every 100 ms rather than prom-client's 10: a timer 100 times a
  // second was 0.3 % of a core in an idle daemon, and a stall long enough to matter spans many samples.
  collectDefaultMetrics({ register: registry, prefix: "corral_daemon_", eventLoopMonitoringPrecision: 100 });

  // prom-client starts every metric's collect in the same turn of a scrape:
  // they share the one reading in flight, and a later scrape takes a new one,
  // however soon it comes (a reading kept for a while would show a restarted
  // process as it was before).
  let reading: Promise<{ namespace: string; rows: ProcessRow[] } | null> | null = null;
  const snapshot = () => {
    if (!reading) {
      const ns = currentNamespace();
      const current = ns ? processRows(ns, { measured }).then((rows) => ({ namespace: ns.namespace, rows })) : Promise.resolve(null);
      reading = current;
      const forget = () => {
        if (reading === current) reading = null;
      };
      current.then(forget, forget);
    }
    return reading;
  };

  const perProcess = (name: string, help: string, value: (row: ProcessRow) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ["namespace", "service", "process"],
      registers: [registry],
      async collect() {
        this.reset();
        const current = await snapshot();
        for (const row of current?.rows ?? []) {
          const v = value(row);
          if (v !== null) this.set({ namespace: current!.namespace, service: row.service, process: String(row.process) }, v);
        }
      },
    });
  perProcess("corral_process_up", "1 while the process is online (ready), else 0.", (r) => (r.status === "online" ? 1 : 0));
  perProcess("corral_process_restarts", "Times the process slot was restarted.", (r) => r.restarts);
  perProcess("corral_process_cpu_cores", "CPU used by the process (and its children) since the previous reading, in cores.", (r) =>
    r.cpuNanoCores === null ? null : r.cpuNanoCores / 1e9,
  );
  perProcess("corral_process_memory_bytes", "Memory of the process (and its children).", (r) => r.memoryBytes);
  perProcess("corral_process_uptime_seconds", "How long the process has been running.", (r) => r.uptimeSeconds);
  perProcess("corral_process_crash_loop", "1 while the crash-loop breaker keeps the process stopped (offline crash-loop), else 0.", (r) =>
    r.reason === "crash-loop" ? 1 : 0,
  );
  perProcess(
    "corral_process_crash_looping",
    "1 while the process fails quickly again and again (or the breaker stopped it), else 0.",
    (r) => (r.crashLooping ? 1 : 0),
  );
  const perProbe = (name: string, help: string, value: (probe: NonNullable<ProcessRow["probes"]["liveness"]>) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["namespace", "service", "process", "probe"],
      registers: [registry],
      async collect() {
        this.reset();
        const current = await snapshot();
        for (const row of current?.rows ?? [])
          for (const [probe, result] of Object.entries(row.probes))
            this.set({ namespace: current!.namespace, service: row.service, process: String(row.process), probe }, value(result));
      },
    });
  perProbe("corral_process_probe_success", "1 when the probe's latest result passed, else 0 (probe: startup, readiness, liveness).", (p) =>
    p.passed ? 1 : 0,
  );
  perProbe("corral_process_probe_duration_seconds", "How long the probe's latest reported run took.", (p) => p.durationMs / 1000);
  perProbe("corral_process_probe_failures", "The probe's failures in a row at its latest reported result.", (p) => p.failures);
  new Gauge({
    name: "corral_processes",
    help: "Supervised processes by status.",
    labelNames: ["namespace", "status"],
    registers: [registry],
    async collect() {
      this.reset();
      const current = await snapshot();
      if (!current) return;
      for (const status of ["online", "offline"] as const)
        this.set({ namespace: current.namespace, status }, current.rows.filter((r) => r.status === status).length);
    },
  });
  registerEdgeMetrics(registry, currentNamespace);
  return registry;
}

/** Per service address (service and port): its connections, bytes and failures, read from the balancers at scrape time. */
function registerEdgeMetrics(registry: Registry, currentNamespace: () => DaemonNamespace | null): void {
  const labelNames = ["namespace", "service", "port"];
  const each = (set: (labels: Record<string, string>, stats: EdgeStats) => void): void => {
    const ns = currentNamespace();
    for (const stats of ns?.edgeStats?.() ?? []) set({ namespace: ns!.namespace, service: stats.serviceId, port: stats.port }, stats);
  };
  new Gauge({
    name: "corral_service_connections_active",
    help: "Connections the service address relays to a process now.",
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      each((labels, stats) => this.set(labels, stats.active));
    },
  });
  const counter = (name: string, help: string, value: (stats: EdgeStats) => number) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        // The balancers keep the running totals; a scrape reports them as they are.
        this.reset();
        each((labels, stats) => this.inc(labels, value(stats)));
      },
    });
  counter("corral_service_connections_total", "Connections the service address accepted.", (s) => s.total);
  counter("corral_service_received_bytes_total", "Bytes from clients to processes (of connections that ended).", (s) => s.bytesIn);
  counter("corral_service_sent_bytes_total", "Bytes from processes to clients (of connections that ended).", (s) => s.bytesOut);
  counter(
    "corral_service_connect_retries_total",
    "Connects to a process that failed and were tried again (invisible to the client).",
    (s) => s.retries,
  );
  counter(
    "corral_service_backend_errors_total",
    "Connects that failed and relayed connections that ended in an error.",
    (s) => s.backendErrors,
  );
  counter(
    "corral_service_drained_connections_total",
    "Connections still open on a process when it was taken out of rotation to stop.",
    (s) => s.drained,
  );
  counter(
    "corral_service_failed_connections_total",
    "Connections closed because no process was ready to take them in time.",
    (s) => s.failed,
  );
}
