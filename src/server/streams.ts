// Long-lived responses: Server-Sent Events for status changes and NDJSON for logs.
import type { FastifyReply, FastifyRequest } from "fastify";
import { ValidationError } from "../contract/errors.js";
import type { LogLine } from "../contract/types.js";
import type { Daemon } from "./daemon.js";

/** Ends when the client goes away or the daemon shuts down. */
function lifetime(request: FastifyRequest, daemon: Daemon): AbortController {
  const controller = new AbortController();
  request.raw.on("close", () => controller.abort());
  void daemon.closed.then(() => controller.abort());
  return controller;
}

/** GET /v1/events: `event: snapshot-end` separates the snapshot (one event per process) from the changes after it. */
export async function serveEvents(daemon: Daemon, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  const controller = lifetime(request, daemon);
  const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
  try {
    for await (const event of daemon.watch(controller.signal)) {
      if ("snapshotEnd" in event) res.write("event: snapshot-end\ndata: {}\n\n");
      else res.write(`event: service\ndata: ${JSON.stringify(event)}\n\n`);
    }
  } finally {
    clearInterval(heartbeat);
    res.end();
  }
}

/**
 * GET /v1/services/:id/logs?process=&tail=&follow=: one JSON object per line,
 * `{ process, time, stream, line }`. Without `process`, every process of the
 * service (tail applies to each), merged in time order for the history.
 */
export async function serveLogs(
  daemon: Daemon,
  request: FastifyRequest<{ Params: { id: string }; Querystring: { process?: string; tail?: string; follow?: string } }>,
  reply: FastifyReply,
): Promise<void> {
  const ns = daemon.namespace!;
  const id = request.params.id;
  const { process: processParam, tail: tailParam, follow: followParam } = request.query;
  const tail = tailParam === undefined ? undefined : Number(tailParam);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0))
    throw new ValidationError("tail", "must be a non-negative integer", tailParam);
  const follow = followParam === "1" || followParam === "true";
  const scale = ns.processStatuses().find((s) => s.serviceId === id)?.processes.length ?? 0;
  const indices = processParam === undefined ? Array.from({ length: scale }, (_, i) => i) : [Number(processParam)];
  if (indices.some((i) => !Number.isInteger(i) || i < 0 || i >= scale))
    throw new ValidationError("process", `must be a process index below ${scale}`, processParam);

  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-cache" });
  const controller = lifetime(request, daemon);
  const write = (processIndex: number, l: LogLine) =>
    res.write(`${JSON.stringify({ process: processIndex, time: l.time, stream: l.stream, line: l.line })}\n`);
  const options = { ...(tail !== undefined ? { tail } : {}), follow, signal: controller.signal };
  try {
    if (follow) {
      // Each process's history, then its new lines as they come.
      await Promise.all(
        indices.map(async (i) => {
          for await (const line of ns.logs(id, i, options)) write(i, line);
        }),
      );
    } else {
      // The history of every process, merged in time order.
      const all = await Promise.all(
        indices.map(async (i) => {
          const lines: { i: number; l: LogLine }[] = [];
          for await (const l of ns.logs(id, i, options)) lines.push({ i, l });
          return lines;
        }),
      );
      for (const { i, l } of all.flat().sort((a, b) => new Date(a.l.time).getTime() - new Date(b.l.time).getTime())) write(i, l);
    }
  } finally {
    res.end();
  }
}
