// Processes recorded in PID files that no supervisor of ours owns: left by an
// earlier instance, or by a scale larger than the current one. They are
// stopped only after their identity checks out; anything else is a stranger
// that merely got a recycled PID, and is left alone.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { StopPolicy } from "./command.js";
import { type ProcessIdentity, isAlive, leadsOwnGroup, readPidRecord, removeFile } from "./identity.js";
import { sendSignal } from "./signals.js";

export function pidFilePath(runDir: string, processIndex: number): string {
  return join(runDir, `${processIndex}.pid`);
}

/** Indices of every `<i>.pid` in a run directory. */
export async function recordedIndices(runDir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(runDir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const match = /^(\d+)\.pid$/.exec(name);
    return match ? [Number(match[1])] : [];
  });
}

/** Stops the recorded processes of a run directory whose index passes `filter`, and removes their PID files. */
export async function stopRecordedProcesses(
  runDir: string,
  policy: StopPolicy,
  filter: (index: number) => boolean = () => true,
): Promise<void> {
  const indices = (await recordedIndices(runDir)).filter(filter);
  await Promise.all(
    indices.map(async (index) => {
      const path = pidFilePath(runDir, index);
      const record = readPidRecord(path);
      if (record && isAlive(record)) await stopIdentity(record, policy);
      removeFile(path);
    }),
  );
}

/** Stop signal to the process's group, SIGKILL after the grace period; resolves once it is gone. */
export async function stopIdentity(identity: ProcessIdentity, policy: StopPolicy): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    if (leadsOwnGroup(identity)) sendSignal(-identity.pid, sig);
    else if (isAlive(identity)) sendSignal(identity.pid, sig);
  };
  signal(policy.signal);
  const deadline = performance.now() + policy.graceMs;
  // Not our child, so no exit notification: poll, briefly.
  while (isAlive(identity) && performance.now() < deadline) await pause(10);
  if (isAlive(identity)) {
    signal("SIGKILL");
    while (isAlive(identity)) await pause(10);
  }
  // Stragglers in its group go with it (the group id cannot be reused while members remain).
  sendSignal(-identity.pid, "SIGKILL");
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
