// Secrets: ids can be listed, values set and deleted, never read back.
import type { DaemonApi } from "../../daemon-api.js";
import { ROUTES } from "../routes-table.js";
import type { ApiPlugin } from "../zod.js";

export const secretRoutes: ApiPlugin<{ daemon: Pick<DaemonApi, "secrets" | "setSecret" | "deleteSecret"> }> = async (app, { daemon }) => {
  // Looked up per request: the backend (and with it where secrets live) can change with an apply.
  app.get(ROUTES.secrets.url, async () => daemon.secrets().list());
  app.put(ROUTES.putSecret.url, { schema: { params: ROUTES.putSecret.params, body: ROUTES.putSecret.body } }, async (request) => {
    const { value, base64 } = request.body;
    const bytes = value !== undefined ? new TextEncoder().encode(value) : Buffer.from(base64 ?? "", "base64");
    const rolled = await daemon.setSecret(request.params.id, bytes);
    return { id: request.params.id, bytes: bytes.length, rolled };
  });
  app.delete(ROUTES.deleteSecret.url, { schema: { params: ROUTES.deleteSecret.params } }, async (request) => {
    await daemon.deleteSecret(request.params.id);
    return { deleted: request.params.id };
  });
};
