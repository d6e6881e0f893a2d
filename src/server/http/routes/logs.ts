// GET /v1/services/:id/logs?process=&tail=&follow=&search=: one JSON object per line,
// `{ process, time, stream, line }`. Without `process`, every process of the
// service (tail applies to each), merged in time order for the history.
import { ValidationError } from "../../../contract/errors.js";
import type { LogLine } from "../../../contract/types.js";
import type { DaemonApi } from "../../daemon-api.js";
import { ROUTES } from "../routes-table.js";
import type { ApiPlugin } from "../zod.js";
import { specOf } from "./services.js";

export const logRoutes: ApiPlugin<{ daemon: Pick<DaemonApi, "state" | "namespace"> }> = async (app, { daemon }) => {
  app.get(ROUTES.logs.url, { schema: { params: ROUTES.logs.params, querystring: ROUTES.logs.querystring } }, async (request, reply) => {
    const { id } = request.params;
    specOf(daemon, id);
    const ns = daemon.namespace!;
    const { process: only, tail, follow = false, search } = request.query;
    const scale = ns.processStatuses().find((s) => s.serviceId === id)?.processes.length ?? 0;
    const indices = only === undefined ? Array.from({ length: scale }, (_, i) => i) : [only];
    if (indices.some((i) => i >= scale)) throw new ValidationError("process", `must be a process index below ${scale}`, only);

    const signal = app.streams.open(request);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-cache" });
    const write = (processIndex: number, l: LogLine) =>
      res.write(`${JSON.stringify({ process: processIndex, time: l.time, stream: l.stream, line: l.line })}\n`);
    const options = { ...(tail !== undefined ? { tail } : {}), follow, signal };
    // A search runs over the whole history here, so the page finds what it never loaded; tail then counts matches.
    const needle = search?.toLowerCase();
    const logsOf = needle === undefined ? (i: number) => ns.logs(id, i, options) : (i: number) => searched(i);
    async function* searched(i: number): AsyncGenerator<LogLine> {
      let kept: LogLine[] = [];
      for await (const l of ns.logs(id, i, { signal })) {
        if (!l.line.toLowerCase().includes(needle!)) continue;
        kept.push(l);
        if (tail !== undefined && kept.length > 2 * tail + 1024) kept = kept.slice(-tail);
      }
      yield* tail === undefined ? kept : tail === 0 ? [] : kept.slice(-tail);
      if (!follow) return;
      for await (const l of ns.logs(id, i, { tail: 0, follow: true, signal })) if (l.line.toLowerCase().includes(needle!)) yield l;
    }
    try {
      if (follow) {
        // Each process's history, then its new lines as they come.
        await Promise.all(
          indices.map(async (i) => {
            for await (const line of logsOf(i)) write(i, line);
          }),
        );
      } else {
        // The history of every process, merged in time order.
        const all = await Promise.all(
          indices.map(async (i) => {
            const lines: { i: number; l: LogLine }[] = [];
            for await (const l of logsOf(i)) lines.push({ i, l });
            return lines;
          }),
        );
        for (const { i, l } of all.flat().sort((a, b) => new Date(a.l.time).getTime() - new Date(b.l.time).getTime())) write(i, l);
      }
    } finally {
      res.end();
    }
  });
};
