// One service at a time: read, create or replace, drop, scale, restart, stop, start.
import { UnknownServiceError } from "../../../contract/errors.js";
import type { ServiceSpec } from "../../../config/types.js";
import type { DaemonApi } from "../../daemon-api.js";
import type { DaemonNamespace } from "../../backend.js";
import type { EdgeStatsBody } from "../../wire.js";
import { ROUTES } from "../routes-table.js";
import type { ApiPlugin } from "../zod.js";

type ServicesDaemon = Pick<
  DaemonApi,
  | "state"
  | "namespace"
  | "processRows"
  | "putService"
  | "deleteService"
  | "scale"
  | "restart"
  | "stop"
  | "start"
  | "restartProcess"
  | "killProcess"
>;

/** What `?mask=env` shows instead of each env value. */
export const ENV_MASK = "••••••";

/** The spec with every env value masked: values typed into a file or read from an envFile are often secrets. */
function masked(spec: ServiceSpec, mask: "env" | undefined): ServiceSpec {
  if (mask !== "env") return spec;
  return { ...spec, env: Object.fromEntries(Object.keys(spec.env).map((name) => [name, ENV_MASK])) };
}

/** The spec of a service of the desired state; UnknownServiceError (404) when there is none. */
export function specOf(daemon: Pick<DaemonApi, "state">, id: string): ServiceSpec {
  const spec = daemon.state?.services[id];
  if (!spec) throw new UnknownServiceError(id);
  return spec;
}

/** The figures of each service's addresses, one per port, read once for every service of a request. */
function edgeByService(ns: DaemonNamespace | null | undefined): Map<string, EdgeStatsBody[]> {
  const byService = new Map<string, EdgeStatsBody[]>();
  for (const { serviceId, ...stats } of ns?.edgeStats?.() ?? []) byService.set(serviceId, [...(byService.get(serviceId) ?? []), stats]);
  return byService;
}

export const serviceRoutes: ApiPlugin<{ daemon: ServicesDaemon }> = async (app, { daemon }) => {
  app.get(ROUTES.services.url, { schema: { querystring: ROUTES.services.querystring } }, async (request) => {
    const all = await daemon.processRows();
    const edge = edgeByService(daemon.namespace);
    return Object.entries(daemon.state?.services ?? {}).map(([id, spec]) => ({
      id,
      spec: masked(spec, request.query.mask),
      processes: all.filter((r) => r.service === id),
      serviceAddresses: daemon.namespace?.serviceAddressesOf(id) ?? {},
      edge: edge.get(id) ?? [],
    }));
  });
  app.get(ROUTES.service.url, { schema: { params: ROUTES.service.params, querystring: ROUTES.service.querystring } }, async (request) => {
    const { id } = request.params;
    const spec = masked(specOf(daemon, id), request.query.mask);
    return {
      id,
      spec,
      processes: (await daemon.processRows()).filter((r) => r.service === id),
      serviceAddresses: daemon.namespace?.serviceAddressesOf(id) ?? {},
      edge: edgeByService(daemon.namespace).get(id) ?? [],
    };
  });
  app.put(ROUTES.putService.url, { schema: { params: ROUTES.putService.params, body: ROUTES.putService.body } }, async (request) =>
    daemon.putService(request.params.id, request.body),
  );
  app.delete(ROUTES.deleteService.url, { schema: { params: ROUTES.deleteService.params } }, async (request) =>
    daemon.deleteService(request.params.id),
  );
  app.post(ROUTES.scale.url, { schema: { params: ROUTES.scale.params, body: ROUTES.scale.body } }, async (request) =>
    daemon.scale(request.params.id, request.body.scale),
  );
  app.post(ROUTES.stop.url, { schema: { params: ROUTES.stop.params } }, async (request) => daemon.stop(request.params.id));
  app.post(ROUTES.start.url, { schema: { params: ROUTES.start.params } }, async (request) => daemon.start(request.params.id));
  app.post(ROUTES.restart.url, { schema: { params: ROUTES.restart.params } }, async (request) => {
    await daemon.restart(request.params.id);
    return { restarted: request.params.id };
  });
  app.post(ROUTES.restartProcess.url, { schema: { params: ROUTES.restartProcess.params } }, async (request) => {
    const { id, process } = request.params;
    await daemon.restartProcess(id, process);
    return { restarted: `${id}-${process}` };
  });
  app.post(ROUTES.killProcess.url, { schema: { params: ROUTES.killProcess.params, body: ROUTES.killProcess.body } }, async (request) => {
    const { id, process } = request.params;
    const signal = request.body?.signal ?? "SIGKILL";
    const { pid } = daemon.killProcess(id, process, signal);
    return { killed: `${id}-${process}`, pid, signal };
  });
};
