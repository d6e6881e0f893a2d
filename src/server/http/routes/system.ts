// Liveness, the OpenAPI document and Prometheus metrics.
import { API_VERSION } from "../api-version.js";
import { openApiDocument } from "../../openapi.js";
import { createMetricsRegistry } from "../../prometheus.js";
import type { DaemonApi } from "../../daemon-api.js";
import { ROUTES } from "../routes-table.js";
import type { ApiPlugin } from "../zod.js";

export const systemRoutes: ApiPlugin<{
  daemon: Pick<DaemonApi, "environment" | "namespace" | "tcpAddress" | "problems" | "history">;
}> = async (app, { daemon }) => {
  const registry = createMetricsRegistry(
    () => daemon.namespace,
    (rows) => daemon.history.sample(rows),
  );
  app.get(ROUTES.health.url, async () => ({
    ok: true,
    pid: process.pid,
    environment: daemon.environment,
    version: API_VERSION,
    tcpAddress: daemon.tcpAddress ?? null,
    problems: daemon.problems,
  }));
  app.get(ROUTES.openapi.url, async () => openApiDocument());
  app.get(ROUTES.metrics.url, async (_request, reply) => reply.header("content-type", registry.contentType).send(await registry.metrics()));
};
