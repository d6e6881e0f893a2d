import { PassThrough } from "node:stream";
import { createInterface } from "node:readline";
import type { LogLine, LogOptions } from "../contract/types.js";
import type { KubeClient } from "./client.js";
import { CONTAINER_NAME } from "./names.js";

/**
 * Lines of one pod's log. Kubernetes merges stdout and stderr into one stream,
 * so every line is reported as "stdout"; the time is the kubelet's timestamp.
 */
export async function* podLogs(client: KubeClient, pod: string, opts: LogOptions = {}): AsyncGenerator<LogLine> {
  if (opts.signal?.aborted) return;
  const follow = opts.follow === true;
  if (opts.tail === 0 && !follow) return;
  const stream = new PassThrough();
  const options: { follow: boolean; tailLines?: number; sinceTime?: string } = { follow };
  // The log API reads tailLines=0 as "no limit", so "nothing old, only new lines" is asked for by time.
  if (opts.tail === 0) options.sinceTime = new Date().toISOString();
  else if (opts.tail !== undefined) options.tailLines = opts.tail;
  const controller = await untilAnswerOrAbort(client.streamLog(pod, CONTAINER_NAME, stream, options), opts.signal);
  if (controller === undefined) {
    stream.destroy();
    return;
  }
  const abort = () => {
    controller.abort();
    stream.end();
  };
  opts.signal?.addEventListener("abort", abort, { once: true });
  if (opts.signal?.aborted) abort();
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const raw of lines) yield parseLine(raw);
  } finally {
    opts.signal?.removeEventListener("abort", abort);
    controller.abort();
    stream.destroy();
  }
}

/**
 * The log request's controller once the server answers, or undefined when the
 * signal aborts first: a server may send nothing, headers included, until the
 * container prints, and the caller's abort must not wait for that.
 */
async function untilAnswerOrAbort(
  request: Promise<AbortController>,
  signal: AbortSignal | undefined,
): Promise<AbortController | undefined> {
  if (!signal) return request;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const first = await Promise.race([request, aborted]);
    // Answered after all: that request is not wanted any more.
    if (first === undefined)
      request.then(
        (late) => late.abort(),
        () => {},
      );
    return first;
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}

function parseLine(raw: string): LogLine {
  const space = raw.indexOf(" ");
  const time = space > 0 ? new Date(raw.slice(0, space)) : new Date(Number.NaN);
  if (Number.isNaN(time.getTime())) return { time: new Date(), stream: "stdout", line: raw };
  return { time, stream: "stdout", line: raw.slice(space + 1) };
}
