// A closed output (`corral logs web | head -1`, a terminal that went away)
// ends the command with status 0 and no stack trace, as it ends any Unix tool
// that gets SIGPIPE; any other write error is one line and status 1.
import type { Writable } from "node:stream";

export function closedOutput(stream: Writable): void {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE" || error.code === "ECONNRESET" || error.code === "ERR_STREAM_DESTROYED") process.exit(0);
    // stderr itself may be the broken one: nothing left to say it on.
    process.exitCode = 1;
    process.exit(1);
  });
}
