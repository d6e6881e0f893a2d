// Watching the processes: their rows, the event stream, Prometheus discovery.
import { renderServiceDiscovery } from "../../../process/service-discovery.js";
import type { DaemonApi } from "../../daemon-api.js";
import { ROUTES } from "../routes-table.js";
import type { ApiPlugin } from "../zod.js";

const HEARTBEAT_MS = 15_000;

export const observeRoutes: ApiPlugin<{ daemon: Pick<DaemonApi, "namespace" | "state" | "watch" | "processRows"> }> = async (
  app,
  { daemon },
) => {
  app.get(ROUTES.processes.url, async () => daemon.processRows());

  // `event: snapshot-end` separates the snapshot (one event per process) from the changes after it.
  app.get(ROUTES.events.url, async (request, reply) => {
    const signal = app.streams.open(request, reply.raw);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
    try {
      for await (const event of daemon.watch(signal)) {
        if ("snapshotEnd" in event) res.write("event: snapshot-end\ndata: {}\n\n");
        else res.write(`event: service\ndata: ${JSON.stringify(event)}\n\n`);
      }
    } finally {
      clearInterval(heartbeat);
      res.end();
    }
  });

  // Prometheus HTTP service discovery: the TCP address of each process's metrics port (a service's
  // `metrics`), with the seed's labels and __metrics_path__; ports nobody marked are not scraped.
  app.get(ROUTES.discovery.url, async () => {
    const ns = daemon.namespace;
    if (!ns) return [];
    const services = daemon.state?.services ?? {};
    const scraped = ns.proxyTargets().flatMap((target) => {
      const metrics = services[target.serviceId]?.metrics;
      return metrics?.port === target.port ? [{ ...target, metricsPath: metrics.path }] : [];
    });
    return renderServiceDiscovery(ns.namespace, scraped);
  });
};
