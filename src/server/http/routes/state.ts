// The desired state as a whole: read it, or apply a new one as a diff.
import { CONFIG_DEFAULTS } from "../../../contract/defaults.js";
import type { DaemonApi } from "../../daemon-api.js";
import { ROUTES } from "../routes-table.js";
import type { ApiPlugin } from "../zod.js";

export const stateRoutes: ApiPlugin<{ daemon: Pick<DaemonApi, "environment" | "state" | "apply"> }> = async (app, { daemon }) => {
  app.get(
    ROUTES.state.url,
    async () => daemon.state ?? { environment: daemon.environment, namespace: CONFIG_DEFAULTS.namespace, services: {} },
  );
  app.post(ROUTES.apply.url, { schema: { body: ROUTES.apply.body } }, async (request) => daemon.apply(request.body));
};
