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
  app.post(ROUTES.apply.url, { schema: { querystring: ROUTES.apply.querystring, body: ROUTES.apply.body } }, async (request, reply) => {
    // A caller that leaves (Ctrl-C on `corral up`) stops the apply's waits: nobody is left to tell.
    const callerLeft = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) callerLeft.abort();
    };
    reply.raw.once("close", onClose);
    try {
      const { timeoutMs } = request.query;
      return await daemon.apply(request.body, { signal: callerLeft.signal, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
    } finally {
      reply.raw.off("close", onClose);
    }
  });
};
