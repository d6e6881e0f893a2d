// The recent past, for a dashboard that was just (re)loaded: the events and the
// CPU and memory samples the daemon kept (see history.ts).
import { HISTORY_DEFAULTS } from "../../../contract/defaults.js";
import { MemoryLimit } from "../../../contract/limits.js";
import { reportSurvivable } from "../../../util/diagnostics.js";
import type { DaemonApi } from "../../daemon-api.js";
import { ROUTES } from "../routes-table.js";
import type { ApiPlugin } from "../zod.js";

export const historyRoutes: ApiPlugin<{ daemon: Pick<DaemonApi, "history" | "state"> }> = async (app, { daemon }) => {
  app.get(ROUTES.eventHistory.url, { schema: { querystring: ROUTES.eventHistory.querystring } }, async (request) => {
    const { service, since } = request.query;
    return daemon.history.eventsSince(since === undefined ? 0 : Date.parse(since), service);
  });
  app.get(ROUTES.metricsHistory.url, { schema: { querystring: ROUTES.metricsHistory.querystring } }, async (request) => {
    const memoryLimits: Record<string, number> = {};
    for (const [id, spec] of Object.entries(daemon.state?.services ?? {})) {
      if (spec.memory === undefined) continue;
      try {
        memoryLimits[id] = MemoryLimit.parse(spec.memory).bytes;
      } catch (error) {
        // The desired state was checked when applied: this would be a bug, not bad input.
        reportSurvivable("server.history", "read a memory limit", error, { service: id });
      }
    }
    return {
      intervalMs: HISTORY_DEFAULTS.sampleIntervalMs,
      idleIntervalMs: HISTORY_DEFAULTS.idleSampleIntervalMs,
      windowMs: HISTORY_DEFAULTS.windowMs,
      series: daemon.history.metrics(request.query.service),
      memoryLimits,
    };
  });
};
