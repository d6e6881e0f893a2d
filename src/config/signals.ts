import { constants as osConstants } from "node:os";

export const SIGNAL_RULE = 'must be a signal name such as "SIGTERM" or "SIGINT"';

/** "SIGTERM" for "SIGTERM", "TERM" or "sigterm"; undefined for anything that is not a signal here. */
export function normalizeSignal(name: string): NodeJS.Signals | undefined {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  return Object.hasOwn(osConstants.signals, full) ? (full as NodeJS.Signals) : undefined;
}
