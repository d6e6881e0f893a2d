// The API described for clients and tools (OpenAPI 3.1). Kept beside the
// routes in api.ts; a test checks that every route is documented.
export function openApiDocument(): Record<string, unknown> {
  const json = (description: string) => ({ description, content: { "application/json": {} } });
  const id = {
    name: "id",
    in: "path",
    required: true,
    schema: { type: "string", pattern: "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", maxLength: 63 },
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "corral daemon API",
      version: "1",
      description: "Served on <state dir>/corral.sock (mode 0600) and, optionally, on TCP with a bearer token.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "Required on TCP; the token is in <state dir>/token." } },
    },
    security: [{ bearer: [] }],
    paths: {
      "/healthz": { get: { summary: "Liveness, environment and daemon pid", responses: { 200: json("ok") } } },
      "/metrics": {
        get: {
          summary: "Prometheus metrics: per-process up, restarts, CPU, memory, uptime; the daemon's own",
          responses: { 200: { description: "text/plain exposition format" } },
        },
      },
      "/openapi.json": { get: { summary: "This document", responses: { 200: json("OpenAPI document") } } },
      "/v1/state": { get: { summary: "The desired state (environment, namespace, services)", responses: { 200: json("DesiredState") } } },
      "/v1/apply": {
        post: {
          summary: "Apply a whole desired state as a diff (changed services roll, removed ones are dropped, dependsOn order kept)",
          responses: { 200: json("{ added, changed, unchanged, removed }"), 400: json("validation error: { error, field, rule }") },
        },
      },
      "/v1/services": { get: { summary: "Every service with its spec and processes", responses: { 200: json("services") } } },
      "/v1/services/{id}": {
        parameters: [id],
        get: { summary: "One service", responses: { 200: json("service"), 404: json("unknown service") } },
        put: {
          summary: "Create or replace one service (a ServiceSpec)",
          responses: { 200: json("apply result"), 400: json("validation error") },
        },
        delete: { summary: "Drop one service", responses: { 200: json("apply result") } },
      },
      "/v1/services/{id}/scale": {
        parameters: [id],
        post: { summary: "Set the scale: { scale: n }", responses: { 200: json("apply result") } },
      },
      "/v1/services/{id}/restart": {
        parameters: [id],
        post: { summary: "Rolling restart: one process at a time", responses: { 200: json("done") } },
      },
      "/v1/services/{id}/logs": {
        parameters: [
          id,
          { name: "process", in: "query", schema: { type: "integer" } },
          { name: "tail", in: "query", schema: { type: "integer" } },
          { name: "follow", in: "query", schema: { type: "boolean" } },
        ],
        get: {
          summary: "Log lines as NDJSON: { process, time, stream, line }",
          responses: { 200: { description: "application/x-ndjson" } },
        },
      },
      "/v1/processes": {
        get: {
          summary:
            "One row per process: service, process, status, reason, pid, restarts, cpuNanoCores, memoryBytes, uptimeSeconds, addresses",
          responses: { 200: json("rows") },
        },
      },
      "/v1/events": {
        get: {
          summary: "Server-Sent Events: a snapshot of every process (then `snapshot-end`), then every change",
          responses: { 200: { description: "text/event-stream" } },
        },
      },
      "/v1/discovery/prometheus": {
        get: {
          summary: "Prometheus HTTP service discovery: every process's TCP proxy address with mz_orchestrator_* labels",
          responses: { 200: json("targets") },
        },
      },
      "/v1/secrets": { get: { summary: "Secret ids (never values)", responses: { 200: json("ids") } } },
      "/v1/secrets/{id}": {
        parameters: [id],
        put: { summary: "Set a secret: { value } or { base64 }", responses: { 200: json("stored") } },
        delete: { summary: "Delete a secret", responses: { 200: json("deleted") } },
      },
      "/v1/dashboard/open": {
        post: {
          summary: "Unix socket only: make sure the dashboard's TCP listener runs (127.0.0.1) and get a one-time login link",
          responses: { 200: json("{ url }"), 403: json("not over the Unix socket") },
        },
      },
      "/v1/shutdown": {
        post: {
          summary: "Stop the daemon; { stopServices: true } stops every service first (corral down)",
          responses: { 200: json("shutting down") },
        },
      },
    },
  };
}
