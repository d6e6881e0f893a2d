// One fastify instance per listener (the Unix socket, a TCP address): the zod
// validation, the one error mapping, access control, stream tracking, then the
// route plugins, each given the part of the daemon it uses.
import Fastify, { type FastifyInstance } from "fastify";
import { INPUT_LIMITS } from "../../contract/defaults.js";
import type { DaemonApi } from "../daemon-api.js";
import { dashboardRoutes } from "../dashboard/routes.js";
import { type Transport, access } from "./access.js";
import { handleErrors } from "./errors.js";
import { historyRoutes } from "./routes/history.js";
import { logRoutes } from "./routes/logs.js";
import { launchRoutes } from "./routes/launch.js";
import { observeRoutes } from "./routes/observe.js";
import { secretRoutes } from "./routes/secrets.js";
import { serviceRoutes } from "./routes/services.js";
import { shutdownRoutes } from "./routes/shutdown.js";
import { stateRoutes } from "./routes/state.js";
import { systemRoutes } from "./routes/system.js";
import { DAEMON_DEFAULTS } from "../../contract/defaults.js";
import { limitConnections } from "./limits.js";
import { streamTracking } from "./streams.js";
import { zodValidatorCompiler } from "./zod.js";

export interface ApiOptions {
  transport: Transport;
  requireToken: boolean;
  logRequests: boolean;
}

export async function buildApi(daemon: DaemonApi, options: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logRequests,
    bodyLimit: INPUT_LIMITS.maxBodyBytes,
    // A request must arrive whole in time (idle connections: limits.ts).
    requestTimeout: DAEMON_DEFAULTS.apiRequestTimeoutMs,
    keepAliveTimeout: DAEMON_DEFAULTS.apiIdleTimeoutMs / 2,
  });
  limitConnections(app.server, {
    total: DAEMON_DEFAULTS.apiMaxConnections,
    perClient: DAEMON_DEFAULTS.apiMaxConnectionsPerClient,
    idleMs: DAEMON_DEFAULTS.apiIdleTimeoutMs,
  });
  app.setValidatorCompiler(zodValidatorCompiler);
  handleErrors(app);
  await app.register(access, { daemon, transport: options.transport, requireToken: options.requireToken });
  await app.register(streamTracking);
  await app.register(systemRoutes, { daemon });
  await app.register(stateRoutes, { daemon });
  await app.register(serviceRoutes, { daemon });
  await app.register(logRoutes, { daemon });
  await app.register(launchRoutes, { daemon, transport: options.transport });
  await app.register(observeRoutes, { daemon });
  await app.register(historyRoutes, { daemon });
  await app.register(secretRoutes, { daemon });
  await app.register(shutdownRoutes, { daemon });
  await app.register(dashboardRoutes, { daemon, transport: options.transport, requireToken: options.requireToken });
  await app.ready();
  return app;
}
