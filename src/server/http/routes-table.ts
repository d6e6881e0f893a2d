// Every route of the daemon's API, with the schemas of what it takes and what
// it answers. The route plugins validate with these schemas and openapi.ts
// describes the API from this table, so the document cannot miss a route or
// disagree with it (a test checks that every registered route is here).
import type { z } from "zod";
import { desiredStateSchema, serviceSpecSchema } from "../../config/desired-state.js";
import {
  applyQuery,
  dashboardLinkBody,
  historyQuery,
  killBody,
  killedBody,
  metricsHistoryBody,
  processParams,
  servicesQuery,
  dashboardOpenBody,
  discoveryBody,
  errorBody,
  healthBody,
  idParams,
  logLineBody,
  launchSpecBody,
  logsQuery,
  processRowBody,
  scaleBody,
  secretBody,
  secretIdsBody,
  secretStoredBody,
  serviceEventBody,
  shutdownBody,
} from "../wire.js";
import { applyResultBody, serviceBody } from "../wire-state.js";

export interface Answer {
  description: string;
  /** The media type; JSON unless said. */
  type?: string;
  schema?: z.ZodType;
}

export interface RouteSpec {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** As fastify writes it (`:id`). */
  url: string;
  summary: string;
  params?: z.ZodObject;
  querystring?: z.ZodObject;
  body?: z.ZodType;
  responses: Record<number, Answer>;
  /** Reachable with the read-only token (`<state dir>/token.read`): what Prometheus and a viewer need, no secrets, no changes. */
  readScope?: true;
}

const invalid: Answer = { description: "bad input: { error, field, rule, code }", schema: errorBody };
const unknownService: Answer = { description: "unknown service", schema: errorBody };
const rollout: Answer = { description: "a rolling change stopped: { error, code, service, process }", schema: errorBody };
const json = (description: string, schema: z.ZodType): Answer => ({ description, schema });

export const ROUTES = {
  health: {
    method: "GET",
    readScope: true,
    url: "/healthz",
    summary: "Liveness, environment and daemon pid",
    responses: { 200: json("ok", healthBody) },
  },
  metrics: {
    method: "GET",
    readScope: true,
    url: "/metrics",
    summary: "Prometheus metrics: per-process up, restarts, CPU, memory, uptime; the daemon's own",
    responses: { 200: { description: "the text exposition format", type: "text/plain" } },
  },
  openapi: {
    method: "GET",
    readScope: true,
    url: "/openapi.json",
    summary: "This document",
    responses: { 200: { description: "OpenAPI document" } },
  },
  state: {
    method: "GET",
    readScope: true,
    url: "/v1/state",
    summary: "The desired state (environment, namespace, services)",
    responses: { 200: json("the desired state", desiredStateSchema) },
  },
  apply: {
    method: "POST",
    url: "/v1/apply",
    summary: "Apply a whole desired state as a diff (changed services roll, removed ones are dropped, dependsOn order kept)",
    querystring: applyQuery,
    body: desiredStateSchema,
    responses: {
      200: json(
        "what changed, and what was not started (blocked by a failed dependency, or still waiting at the deadline)",
        applyResultBody,
      ),
      400: invalid,
      409: rollout,
      503: { description: "interrupted: the daemon is stopping every service (corral down), or the caller left", schema: errorBody },
    },
  },
  services: {
    method: "GET",
    readScope: true,
    url: "/v1/services",
    summary: "Every service with its spec and processes; ?mask=env masks every env value",
    querystring: servicesQuery,
    responses: { 200: json("services", serviceBody.array()), 400: invalid },
  },
  service: {
    method: "GET",
    readScope: true,
    url: "/v1/services/:id",
    summary: "One service; ?mask=env masks every env value",
    params: idParams,
    querystring: servicesQuery,
    responses: { 200: json("the service", serviceBody), 400: invalid, 404: unknownService },
  },
  putService: {
    method: "PUT",
    url: "/v1/services/:id",
    summary: "Create or replace one service (a ServiceSpec)",
    params: idParams,
    body: serviceSpecSchema,
    responses: { 200: json("what changed", applyResultBody), 400: invalid, 409: rollout },
  },
  deleteService: {
    method: "DELETE",
    url: "/v1/services/:id",
    summary: "Drop one service",
    params: idParams,
    responses: { 200: json("what changed", applyResultBody), 400: invalid },
  },
  scale: {
    method: "POST",
    url: "/v1/services/:id/scale",
    summary: "Set the scale: { scale: n }",
    params: idParams,
    body: scaleBody,
    responses: { 200: json("what changed", applyResultBody), 400: invalid, 404: unknownService, 409: rollout },
  },
  stop: {
    method: "POST",
    url: "/v1/services/:id/stop",
    summary: "Stop a service's processes; it stays in the desired state, stopped (its dependents are left running, as compose stop does)",
    params: idParams,
    responses: { 200: json("what changed", applyResultBody), 400: invalid, 404: unknownService, 409: rollout },
  },
  start: {
    method: "POST",
    url: "/v1/services/:id/start",
    summary: "Start a stopped service again, and its stopped dependencies first (a service of scale 0 gets one process)",
    params: idParams,
    responses: { 200: json("what changed", applyResultBody), 400: invalid, 404: unknownService, 409: rollout },
  },
  restart: {
    method: "POST",
    url: "/v1/services/:id/restart",
    summary: "Rolling restart: one process at a time",
    params: idParams,
    responses: { 200: { description: "done: { restarted }" }, 404: unknownService, 409: rollout },
  },
  restartProcess: {
    method: "POST",
    url: "/v1/services/:id/processes/:process/restart",
    summary: "Replace one process (stopped as configured, started again, whatever its restart policy); waits until it is online",
    params: processParams,
    responses: {
      200: { description: "done: { restarted }" },
      400: invalid,
      404: unknownService,
      409: { description: "a backend without it, or the new process failed", schema: errorBody },
    },
  },
  killProcess: {
    method: "POST",
    url: "/v1/services/:id/processes/:process/kill",
    summary: "Send a signal (SIGKILL unless { signal }) to one running process; its restart policy decides what follows",
    params: processParams,
    body: killBody,
    responses: {
      200: json("signalled", killedBody),
      400: invalid,
      404: unknownService,
      409: { description: "the process is not running", schema: errorBody },
    },
  },
  eventHistory: {
    method: "GET",
    readScope: true,
    url: "/v1/history/events",
    summary: "The status events of the last hour (bounded in count), oldest first: what the dashboard shows after a reload",
    querystring: historyQuery,
    responses: { 200: json("events", serviceEventBody.array()), 400: invalid },
  },
  metricsHistory: {
    method: "GET",
    readScope: true,
    url: "/v1/history/metrics",
    summary: "CPU and memory of every process over the last hour, sampled every few seconds, with each service's memory limit",
    querystring: historyQuery.pick({ service: true }),
    responses: { 200: json("series", metricsHistoryBody), 400: invalid },
  },
  runSpec: {
    method: "GET",
    url: "/v1/services/:id/run-spec",
    summary:
      "Unix socket only: what a one-off command of the service runs with (process 0's program, env with secrets, cwd, user, placeholders): corral run",
    params: idParams,
    responses: { 200: json("the launch spec", launchSpecBody), 400: invalid, 404: unknownService },
  },
  execSpec: {
    method: "GET",
    url: "/v1/services/:id/processes/:process/exec-spec",
    summary: "Unix socket only: what a command run next to a running process gets (its env with secrets, cwd, user, cgroups): corral exec",
    params: processParams,
    responses: {
      200: json("the launch spec", launchSpecBody),
      400: invalid,
      404: unknownService,
      409: { description: "the process does not run", schema: errorBody },
    },
  },
  logs: {
    method: "GET",
    url: "/v1/services/:id/logs",
    summary: "Log lines as NDJSON: { process, time, stream, line }",
    params: idParams,
    querystring: logsQuery,
    responses: {
      200: { description: "one JSON object per line", type: "application/x-ndjson", schema: logLineBody },
      400: invalid,
      404: unknownService,
    },
  },
  processes: {
    method: "GET",
    readScope: true,
    url: "/v1/processes",
    summary: "One row per process: service, process, status, reason, pid, restarts, cpuNanoCores, memoryBytes, uptimeSeconds, addresses",
    responses: { 200: json("rows", processRowBody.array()) },
  },
  events: {
    method: "GET",
    readScope: true,
    url: "/v1/events",
    summary: "Server-Sent Events: a snapshot of every process (then `snapshot-end`), then every change",
    responses: {
      200: { description: "`event: service` with a ServiceEvent as data", type: "text/event-stream", schema: serviceEventBody },
    },
  },
  discovery: {
    method: "GET",
    readScope: true,
    url: "/v1/discovery/prometheus",
    summary: "Prometheus HTTP service discovery: every process's TCP proxy address with mz_orchestrator_* labels",
    responses: { 200: json("targets", discoveryBody) },
  },
  secrets: { method: "GET", url: "/v1/secrets", summary: "Secret ids (never values)", responses: { 200: json("ids", secretIdsBody) } },
  putSecret: {
    method: "PUT",
    url: "/v1/secrets/:id",
    summary: "Set a secret: { value } or { base64 }; a changed value rolls the services that read it",
    params: idParams,
    body: secretBody,
    responses: { 200: json("stored (the value is never sent back)", secretStoredBody), 400: invalid, 409: rollout },
  },
  deleteSecret: {
    method: "DELETE",
    url: "/v1/secrets/:id",
    summary: "Delete a secret (refused while a service reads it)",
    params: idParams,
    responses: {
      200: { description: "deleted: { deleted }" },
      400: invalid,
      404: { description: "no such secret", schema: errorBody },
      409: { description: "services read it: { error, code }", schema: errorBody },
    },
  },
  dashboardOpen: {
    method: "POST",
    url: "/v1/dashboard/open",
    summary: "Unix socket only: make sure the dashboard's TCP listener runs (127.0.0.1) and get a one-time login link",
    body: dashboardOpenBody,
    responses: { 200: json("a login link", dashboardLinkBody), 400: invalid, 404: { description: "not over the Unix socket" } },
  },
  shutdown: {
    method: "POST",
    url: "/v1/shutdown",
    summary: "Stop the daemon; { stopServices: true } stops every service first (corral down)",
    body: shutdownBody,
    responses: { 200: { description: "shutting down: { shuttingDown, stopServices }" }, 400: invalid },
  },
} as const satisfies Record<string, RouteSpec>;
