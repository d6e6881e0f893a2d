// Foreground `up` prints each process's output from its start, as compose
// does: a follower per process opens as soon as an event shows the process
// exists, and its history back to the moment `up` began is printed first, so
// nothing a process wrote before the follower opened is lost.
import type { ServiceEvent } from "../contract/types.js";
import { logLineBody } from "../server/wire.js";
import { survive } from "../util/diagnostics.js";
import type { DaemonClient } from "./client.js";
import { colourFor, paint } from "./format.js";

/** History fetched when a follower opens: far more than a process writes in the moment before its first event. */
const HISTORY_LINES = 1000;

export class LogFollowers {
  readonly #following = new Set<string>();
  readonly #controller = new AbortController();
  readonly #done: Promise<void>[] = [];

  constructor(
    private readonly client: DaemonClient,
    /** Lines older than this (an earlier run's) are not printed. */
    private readonly since: Date,
    /** Width of the `<service>-<i>` prefix column. */
    private readonly width: number,
  ) {}

  /** Opens the follower of the event's process unless it is open (a stopped slot may be one that is gone). */
  follow(event: ServiceEvent): void {
    const name = `${event.serviceId}-${event.processId}`;
    if (event.reason === "stopped" || event.warning || event.hook || this.#following.has(name)) return;
    this.#following.add(name);
    const query = new URLSearchParams({ process: String(event.processId), follow: "true", tail: String(HISTORY_LINES) });
    const path = `/v1/services/${event.serviceId}/logs?${query.toString()}`;
    const prefix = `${paint(colourFor(event.serviceId), name.padEnd(this.width))} |`;
    this.#done.push(
      (async () => {
        for await (const line of this.client.lines(path, logLineBody, this.#controller.signal)) {
          if (new Date(line.time) >= this.since) process.stdout.write(`${prefix} ${line.line}\n`);
        }
      })().catch((error: unknown) => {
        // The follower of a process that just went away may be refused: its lines are in `corral logs`.
        this.#following.delete(name);
        survive("cli.up", "follow a process's logs", { process: name })(error);
      }),
    );
  }

  /** Ends every follower. */
  async close(): Promise<void> {
    this.#controller.abort();
    await Promise.all(this.#done);
  }
}
