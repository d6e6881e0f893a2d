import { isSignalName } from "../contract/rules.js";

export { SIGNAL_RULE } from "../contract/rules.js";

/** "SIGTERM" for "SIGTERM", "TERM" or "sigterm"; undefined for anything that is not a signal here. */
export function normalizeSignal(name: string): NodeJS.Signals | undefined {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  return isSignalName(full) ? full : undefined;
}
