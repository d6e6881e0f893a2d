import type { Readable, Writable } from "node:stream";

/**
 * Copies a child's output to one of our streams, one whole line at a time
 * with `<prefix> | ` in front, so the lines of many processes interleave
 * without tearing each other.
 */
export function echoLines(source: Readable, target: Writable, prefix: string): void {
  let partial = "";
  source.setEncoding("utf8");
  source.on("data", (chunk: string) => {
    const text = partial + chunk;
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    if (lines.length > 0) target.write(lines.map((line) => `${prefix} | ${line}\n`).join(""));
    // A child that never ends a line must not grow this buffer forever.
    if (partial.length > 64 * 1024) {
      target.write(`${prefix} | ${partial}\n`);
      partial = "";
    }
  });
  source.on("end", () => {
    if (partial) target.write(`${prefix} | ${partial}\n`);
    partial = "";
  });
  source.on("error", () => {}); // the child's end of the pipe went away; nothing to report
}
