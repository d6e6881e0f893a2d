// `corral up`: apply the file as a diff, show progress until every process is
// online, then (in the foreground) stream every service's logs until Ctrl-C,
// which stops the services gracefully.
import { resolve } from "node:path";
import type { ServiceEvent } from "../contract/types.js";
import { loadConfigFile } from "../config/load.js";
import type { DesiredState } from "../config/types.js";
import { ApiError } from "./client.js";
import { describeEvent, down, streamLogs } from "./commands.js";
import { CliError, EXIT, type GlobalOptions, ensureDaemon, resolveStateDir } from "./context.js";
import { paint } from "./format.js";
import { applyResultBody } from "../server/wire.js";
import { survive } from "../util/diagnostics.js";

export interface UpOptions extends GlobalOptions {
  detach?: boolean;
  /** Seconds (main.ts defaults it to DAEMON_DEFAULTS.upTimeoutSeconds). */
  timeout: string;
}

export async function up(options: UpOptions): Promise<void> {
  const file = resolve(options.file ?? "corral.yaml");
  // Loading writes nothing: a bad file changes nothing anywhere.
  const state: DesiredState = await loadConfigFile(file);
  const stateDir = resolveStateDir({ ...options, file });
  const client = await ensureDaemon(stateDir, state.environment);
  const timeoutSeconds = Number(options.timeout);
  if (!(timeoutSeconds > 0)) throw new CliError("--timeout must be a positive number of seconds", EXIT.usage);
  const timeoutMs = timeoutSeconds * 1000;

  const watch = new AbortController();
  const expected = new Map(Object.entries(state.services).map(([id, spec]) => [id, spec.scale]));
  const latest = new Map<string, ServiceEvent>();
  let applied = false;
  let resolveOnline!: () => void;
  const allOnline = new Promise<void>((r) => (resolveOnline = r));
  const everyProcessOnline = () =>
    [...expected].every(([id, scale]) =>
      Array.from({ length: scale }, (_, i) => latest.get(`${id}/${i}`)).every((e) => e?.status === "online"),
    );
  const progress = (async () => {
    for await (const event of client.events(watch.signal)) {
      if ("snapshotEnd" in event) continue;
      if (!expected.has(event.serviceId)) continue;
      latest.set(`${event.serviceId}/${event.processId}`, event);
      process.stdout.write(`${describeEvent(event)}\n`);
      if (applied && everyProcessOnline()) resolveOnline();
    }
  })().catch(survive("cli.up", "follow the events"));

  try {
    const result = await client.post("/v1/apply", state, applyResultBody);
    const summary = [
      result.added.length ? `started ${result.added.join(", ")}` : "",
      result.changed.length ? `updated ${result.changed.join(", ")}` : "",
      result.removed.length ? `removed ${result.removed.join(", ")}` : "",
      result.unchanged.length ? `unchanged ${result.unchanged.join(", ")}` : "",
    ].filter(Boolean);
    process.stdout.write(`${paint("bold", summary.join("; ") || "nothing to do")}\n`);
  } catch (error) {
    watch.abort();
    if (error instanceof ApiError && error.status === 400) throw new CliError(`${file}: ${error.message}`, EXIT.usage);
    throw error;
  }
  applied = true;
  if (everyProcessOnline()) resolveOnline();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    allOnline.then(() => false),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
  ]);
  clearTimeout(timer);
  watch.abort();
  await progress;
  if (timedOut) {
    const waiting = [...expected].flatMap(([id, scale]) =>
      Array.from({ length: scale }, (_, i) => `${id}-${i}`).filter((_, i) => latest.get(`${id}/${i}`)?.status !== "online"),
    );
    throw new CliError(
      `not every process came online within ${timeoutMs / 1000} s: ${waiting.join(", ")} (see \`corral ps\` and \`corral logs\`)`,
    );
  }
  process.stdout.write(`${paint("green", "every process is online")}\n`);
  if (options.detach) return;

  // Foreground: logs until Ctrl-C, then a graceful stop of everything.
  const logs = new AbortController();
  const stopping = new Promise<void>((resolveStop) => {
    const stop = () => {
      process.stdout.write(`\n${paint("yellow", "stopping every service (Ctrl-C again to leave them running)...")}\n`);
      process.once("SIGINT", () => process.exit(EXIT.failed));
      logs.abort();
      void down({ stateDir }).then(resolveStop, (error: unknown) => {
        process.stderr.write(`corral: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(EXIT.failed);
      });
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await streamLogs(client, [...expected.keys()], { follow: true, tail: 0, signal: logs.signal }).catch(
    survive("cli.up", "follow the logs"),
  );
  await stopping;
}
