import { survive } from "../../../util/diagnostics.js";
import type { DaemonApi } from "../../daemon-api.js";
import { ROUTES } from "../routes-table.js";
import type { ApiPlugin } from "../zod.js";

export const shutdownRoutes: ApiPlugin<{ daemon: Pick<DaemonApi, "shutdown"> }> = async (app, { daemon }) => {
  app.post(ROUTES.shutdown.url, { schema: { body: ROUTES.shutdown.body } }, async (request, reply) => {
    const stopServices = request.body.stopServices ?? false;
    await reply.send({ shuttingDown: true, stopServices });
    // After the answer is out: closing the server waits for this request.
    setImmediate(() => void daemon.shutdown({ stopServices }).catch(survive("server.http", "shut down")));
  });
};
