// Event and log streams last until the client leaves. This plugin tracks them
// for the whole API (it breaks fastify's encapsulation on purpose) and ends
// them when the server closes; otherwise close() — a daemon shutdown or
// restart — would wait for every open dashboard tab and `corral events`.
import type { ServerResponse } from "node:http";
import type { FastifyRequest } from "fastify";
import fp from "fastify-plugin";

export interface StreamTracker {
  /**
   * Marks a request as a stream; the signal aborts when the client leaves or the server closes.
   * Given the response, it is the response's close that counts: the request's own 'close' may come
   * as soon as its (empty) body was read, while the answer still streams.
   */
  open(request: FastifyRequest, response?: ServerResponse): AbortSignal;
}

declare module "fastify" {
  interface FastifyInstance {
    streams: StreamTracker;
  }
}

export const streamTracking = fp(
  async (app) => {
    const open = new Map<FastifyRequest["raw"], AbortController>();
    app.decorate("streams", {
      open(request: FastifyRequest, response?: ServerResponse): AbortSignal {
        const controller = new AbortController();
        open.set(request.raw, controller);
        (response ?? request.raw).once("close", () => {
          open.delete(request.raw);
          controller.abort();
        });
        return controller.signal;
      },
    });
    app.addHook("preClose", async () => {
      for (const [raw, controller] of open) {
        controller.abort();
        raw.destroy();
      }
    });
  },
  { name: "corral-streams", fastify: "5.x" },
);
