// The daemon's versioned HTTP API (fastify). Over the Unix socket the file
// mode is the access control; over TCP every request needs the bearer token.
import { timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { UnknownServiceError, ValidationError } from "../contract/errors.js";
import type { DesiredState, ServiceSpec } from "../config/types.js";
import { validateId } from "../contract/validation.js";
import { renderServiceDiscovery } from "../process/service-discovery.js";
import { SecretNotFoundError } from "../process/secrets.js";
// eslint-disable-next-line import-x/no-cycle -- to be removed by the server's split into plugins
import { registerDashboard } from "./dashboard.js";
import type { Daemon } from "./daemon.js";
import { openApiDocument } from "./openapi.js";
import { processRows } from "./process-table.js";
import { createMetricsRegistry } from "./prometheus.js";
import { serveEvents, serveLogs } from "./streams.js";

export const API_VERSION = "v1";

export interface ApiOptions {
  requireToken: boolean;
  logRequests: boolean;
}

export async function buildApi(daemon: Daemon, options: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logRequests, bodyLimit: 16 * 1024 * 1024 });
  const registry = createMetricsRegistry(() => daemon.namespace);
  const dashboard = registerDashboard(app, daemon, options);

  if (options.requireToken) {
    const expected = Buffer.from(daemon.token);
    app.addHook("onRequest", async (request, reply) => {
      const header = request.headers.authorization ?? "";
      const given = Buffer.from(header.startsWith("Bearer ") ? header.slice(7) : "");
      if ((given.length !== expected.length || !timingSafeEqual(given, expected)) && !dashboard.admits(request)) {
        await reply
          .code(401)
          .header("www-authenticate", 'Bearer realm="corral"')
          .send({ error: "a bearer token is required (Authorization: Bearer <token>; see <state dir>/token)" });
      }
    });
  }

  app.setErrorHandler((error: unknown, _request, reply) => {
    if (error instanceof ValidationError) return reply.code(400).send({ error: error.message, field: error.field, rule: error.rule });
    if (error instanceof UnknownServiceError || error instanceof SecretNotFoundError) return reply.code(404).send({ error: error.message });
    const e = error as { statusCode?: number; message?: string };
    if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ error: e.message });
    return reply.code(500).send({ error: e.message ?? String(error) });
  });

  app.get("/healthz", async () => ({ ok: true, pid: process.pid, environment: daemon.environment, version: API_VERSION }));
  app.get("/openapi.json", async () => openApiDocument());
  app.get("/metrics", async (_request, reply) => reply.header("content-type", registry.contentType).send(await registry.metrics()));

  app.get(`/${API_VERSION}/state`, async () => daemon.state ?? { environment: daemon.environment, namespace: "default", services: {} });
  app.post<{ Body: DesiredState }>(`/${API_VERSION}/apply`, async (request) => daemon.apply(checkState(request.body)));

  app.get(`/${API_VERSION}/services`, async () => {
    const state = daemon.state;
    const rows = daemon.namespace ? await processRows(daemon.namespace) : [];
    return Object.entries(state?.services ?? {}).map(([id, spec]) => ({ id, spec, processes: rows.filter((r) => r.service === id) }));
  });
  app.get<{ Params: { id: string } }>(`/${API_VERSION}/services/:id`, async (request) => {
    const spec = serviceSpec(daemon, request.params.id);
    const rows = daemon.namespace ? await processRows(daemon.namespace) : [];
    return { id: request.params.id, spec, processes: rows.filter((r) => r.service === request.params.id) };
  });
  app.put<{ Params: { id: string }; Body: ServiceSpec }>(`/${API_VERSION}/services/:id`, async (request) => {
    validateId("service id", request.params.id);
    return daemon.putService(request.params.id, checkSpec(request.body));
  });
  app.delete<{ Params: { id: string } }>(`/${API_VERSION}/services/:id`, async (request) => {
    validateId("service id", request.params.id);
    return daemon.deleteService(request.params.id);
  });
  app.post<{ Params: { id: string }; Body: { scale?: unknown } }>(`/${API_VERSION}/services/:id/scale`, async (request) => {
    const scale = request.body?.scale;
    if (typeof scale !== "number" || !Number.isInteger(scale) || scale < 1)
      throw new ValidationError("scale", "must be a positive integer", scale);
    return daemon.scale(request.params.id, scale);
  });
  app.post<{ Params: { id: string } }>(`/${API_VERSION}/services/:id/restart`, async (request) => {
    await daemon.restart(request.params.id);
    return { restarted: request.params.id };
  });
  app.get<{ Params: { id: string }; Querystring: { process?: string; tail?: string; follow?: string } }>(
    `/${API_VERSION}/services/:id/logs`,
    async (request, reply) => {
      serviceSpec(daemon, request.params.id);
      await serveLogs(daemon, request, reply);
    },
  );

  app.get(`/${API_VERSION}/processes`, async () => (daemon.namespace ? processRows(daemon.namespace) : []));
  app.get(`/${API_VERSION}/events`, async (request, reply) => serveEvents(daemon, request, reply));

  // Prometheus HTTP service discovery: every process's TCP proxy address, with the seed's labels.
  app.get(`/${API_VERSION}/discovery/prometheus`, async () => {
    const ns = daemon.namespace;
    return ns ? renderServiceDiscovery(ns.namespace, ns.proxyTargets()) : [];
  });

  // Looked up per request: the backend (and with it where secrets live) can change with an apply.
  const secrets = () => daemon.backend.secretsController();
  app.get(`/${API_VERSION}/secrets`, async () => secrets().list());
  app.put<{ Params: { id: string }; Body: { value?: unknown; base64?: unknown } }>(`/${API_VERSION}/secrets/:id`, async (request) => {
    const { value, base64 } = request.body ?? {};
    let bytes: Uint8Array;
    if (typeof value === "string") bytes = new TextEncoder().encode(value);
    else if (typeof base64 === "string") bytes = Buffer.from(base64, "base64");
    else throw new ValidationError("value", 'must be a string (or "base64": a base64 string)');
    await secrets().ensure(request.params.id, bytes);
    // The value is never sent back.
    return { id: request.params.id, bytes: bytes.length };
  });
  app.delete<{ Params: { id: string } }>(`/${API_VERSION}/secrets/:id`, async (request) => {
    await secrets().delete(request.params.id);
    return { deleted: request.params.id };
  });

  app.post<{ Body: { stopServices?: unknown } }>(`/${API_VERSION}/shutdown`, async (request, reply) => {
    const stopServices = request.body?.stopServices === true;
    await reply.send({ shuttingDown: true, stopServices });
    // After the answer is out: closing the server waits for this request.
    setImmediate(() => void daemon.shutdown({ stopServices }));
  });

  await app.ready();
  return app;
}

function serviceSpec(daemon: Daemon, id: string): ServiceSpec {
  validateId("service id", id);
  const spec = daemon.state?.services[id];
  if (!spec) throw new UnknownServiceError(id);
  return spec;
}

function checkState(body: unknown): DesiredState {
  if (typeof body !== "object" || body === null) throw new ValidationError("body", "must be a desired state object");
  const state = body as DesiredState;
  validateId("environment", state.environment);
  validateId("namespace", state.namespace);
  if (typeof state.services !== "object" || state.services === null)
    throw new ValidationError("services", "must be an object of service specs");
  for (const [id, spec] of Object.entries(state.services)) {
    validateId("service id", id);
    checkSpec(spec, `services.${id}`);
    for (const dependency of Object.keys(spec.dependsOn ?? {})) {
      if (!state.services[dependency]) throw new ValidationError(`services.${id}.dependsOn`, `names unknown service "${dependency}"`);
    }
  }
  return state;
}

/** Structural checks of a spec from the wire; the orchestrator's validation does the rest before anything changes. */
function checkSpec(spec: unknown, field = "body"): ServiceSpec {
  if (typeof spec !== "object" || spec === null) throw new ValidationError(field, "must be a service spec object");
  const s = spec as Partial<ServiceSpec>;
  if (s.command !== undefined && (typeof s.command !== "string" || !s.command.startsWith("/")))
    throw new ValidationError(`${field}.command`, "must be an absolute path", s.command);
  if (s.image !== undefined && typeof s.image !== "string") throw new ValidationError(`${field}.image`, "must be a string", s.image);
  return {
    ...s,
    args: Array.isArray(s.args) ? s.args : [],
    ports: Array.isArray(s.ports) ? s.ports : [],
    scale: s.scale ?? 1,
    env: s.env ?? {},
    labels: s.labels ?? {},
    dependsOn: s.dependsOn ?? {},
  };
}

export type { FastifyReply, FastifyRequest };
