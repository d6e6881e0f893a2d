// One subscription to the daemon's status events, telling snapshot states
// (what is, now) from live changes (what just happened): `up` judges only
// the latter as crashes, and prints both.
import type { ServiceEvent } from "../contract/types.js";
import { survive } from "../util/diagnostics.js";
import type { DaemonClient } from "./client.js";

export interface EventHandlers {
  onEvent(event: ServiceEvent, live: boolean): void;
  /** The snapshot that opens the stream is complete (called once). */
  onSnapshotEnd?(): void;
}

/** Follows the events until `signal` aborts or the daemon goes away; resolves then. */
export async function followEvents(client: DaemonClient, signal: AbortSignal, handlers: EventHandlers): Promise<void> {
  let live = false;
  try {
    for await (const event of client.events(signal)) {
      if ("snapshotEnd" in event) {
        if (!live) handlers.onSnapshotEnd?.();
        live = true;
      } else handlers.onEvent(event, live);
    }
  } catch (error) {
    // The daemon going away (corral down from another terminal) ends the stream; anything else is worth a line.
    survive("cli.up", "follow the events")(error);
  }
}
