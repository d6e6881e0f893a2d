// One service at a time: read, create or replace, drop, scale, restart, stop, start.
import { UnknownServiceError } from "../../../contract/errors.js";
import type { ServiceSpec } from "../../../config/types.js";
import type { DaemonApi } from "../../daemon-api.js";
import { processRows } from "../../process-table.js";
import { ROUTES } from "../routes-table.js";
import type { ApiPlugin } from "../zod.js";

type ServicesDaemon = Pick<DaemonApi, "state" | "namespace" | "putService" | "deleteService" | "scale" | "restart" | "stop" | "start">;

/** The spec of a service of the desired state; UnknownServiceError (404) when there is none. */
export function specOf(daemon: Pick<DaemonApi, "state">, id: string): ServiceSpec {
  const spec = daemon.state?.services[id];
  if (!spec) throw new UnknownServiceError(id);
  return spec;
}

export const serviceRoutes: ApiPlugin<{ daemon: ServicesDaemon }> = async (app, { daemon }) => {
  const rows = async () => (daemon.namespace ? processRows(daemon.namespace, daemon.state) : []);

  app.get(ROUTES.services.url, async () => {
    const all = await rows();
    return Object.entries(daemon.state?.services ?? {}).map(([id, spec]) => ({ id, spec, processes: all.filter((r) => r.service === id) }));
  });
  app.get(ROUTES.service.url, { schema: { params: ROUTES.service.params } }, async (request) => {
    const { id } = request.params;
    const spec = specOf(daemon, id);
    return { id, spec, processes: (await rows()).filter((r) => r.service === id) };
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
};
