// GET /v1/services/:id/logs?process=&tail=&follow=&since=&until=&search=: one JSON
// object per line, `{ process, time, stream, line }`. Without `process`, every
// process of the service (tail applies to each), merged in time order for the
// history. A failure once the answer has begun (its status is sent already)
// ends it with one `{ error }` line, never with a silent, short 200.
import { ValidationError } from "../../../contract/errors.js";
import type { LogLine } from "../../../contract/types.js";
import { reportSurvivable } from "../../../util/diagnostics.js";
import type { DaemonApi } from "../../daemon-api.js";
import { ROUTES } from "../routes-table.js";
import type { ApiPlugin } from "../zod.js";
import { specOf } from "./services.js";

export const logRoutes: ApiPlugin<{ daemon: Pick<DaemonApi, "state" | "namespace"> }> = async (app, { daemon }) => {
  app.get(ROUTES.logs.url, { schema: { params: ROUTES.logs.params, querystring: ROUTES.logs.querystring } }, async (request, reply) => {
    const { id } = request.params;
    specOf(daemon, id);
    const ns = daemon.namespace!;
    const { process: only, tail, follow = false, since, until, search } = request.query;
    const scale = ns.processStatuses().find((s) => s.serviceId === id)?.processes.length ?? 0;
    const indices = only === undefined ? Array.from({ length: scale }, (_, i) => i) : [only];
    if (indices.some((i) => i >= scale)) throw new ValidationError("process", `must be a process index below ${scale}`, only);

    const signal = app.streams.open(request, reply.raw);
    const options = { ...(tail !== undefined ? { tail } : {}), ...(since ? { since } : {}), ...(until ? { until } : {}), follow, signal };
    // Opened before the answer starts: a process that cannot be read is an error status, not an empty 200.
    // A search runs over the whole history here, so the page finds what it never loaded; tail then counts matches.
    const needle = search?.toLowerCase();
    const range = { ...(since ? { since } : {}), ...(until ? { until } : {}) };
    async function* searched(i: number, lines: AsyncIterable<LogLine>): AsyncGenerator<LogLine> {
      let kept: LogLine[] = [];
      for await (const l of lines) {
        if (!l.line.toLowerCase().includes(needle!)) continue;
        kept.push(l);
        if (tail !== undefined && kept.length > 2 * tail + 1024) kept = kept.slice(-tail);
      }
      yield* tail === undefined ? kept : tail === 0 ? [] : kept.slice(-tail);
      if (!follow) return;
      for await (const l of ns.logs(id, i, { ...range, tail: 0, follow: true, signal }))
        if (l.line.toLowerCase().includes(needle!)) yield l;
    }
    const readers = indices.map((i) => ({
      i,
      lines: needle === undefined ? ns.logs(id, i, options) : searched(i, ns.logs(id, i, { ...range, signal })),
    }));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-cache" });
    // Waits for the client to take what was written: a large history is not all held in memory.
    const write = async (processIndex: number, l: LogLine) => {
      if (!res.write(`${JSON.stringify({ process: processIndex, time: l.time, stream: l.stream, line: l.line })}\n`) && !signal.aborted)
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off("drain", done);
            signal.removeEventListener("abort", done);
            resolve();
          };
          res.once("drain", done);
          signal.addEventListener("abort", done, { once: true });
        });
    };
    try {
      if (follow) {
        // Each process's history, then its new lines as they come.
        await Promise.all(
          readers.map(async ({ i, lines }) => {
            for await (const line of lines) await write(i, line);
          }),
        );
      } else if (readers.length === 1) {
        for await (const line of readers[0]!.lines) await write(readers[0]!.i, line);
      } else {
        // The history of every process, merged in time order.
        const all = await Promise.all(
          readers.map(async ({ i, lines }) => {
            const out: { i: number; l: LogLine }[] = [];
            for await (const l of lines) out.push({ i, l });
            return out;
          }),
        );
        for (const { i, l } of all.flat().sort((a, b) => a.l.time.getTime() - b.l.time.getTime())) await write(i, l);
      }
    } catch (error) {
      reportSurvivable("server.logs", "send logs", error, { service: id });
      if (!signal.aborted)
        res.write(
          `${JSON.stringify({ error: `reading the logs of ${id} failed: ${error instanceof Error ? error.message : String(error)}` })}\n`,
        );
    } finally {
      res.end();
    }
  });
};
