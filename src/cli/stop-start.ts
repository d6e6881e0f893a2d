// `corral stop [service...]` and `corral start [service...]`, as docker compose
// has them: a stopped service stays in the desired state (and in `corral ps`,
// as stopped) with its files; its processes are stopped the way a scale-down
// stops them (stop signal, grace period, then SIGKILL). No name: every service.
import { stopOrder, startOrder } from "../config/dependencies.js";
import { desiredStateSchema } from "../config/desired-state.js";
import { runningScale } from "../config/translate.js";
import type { DesiredState } from "../config/types.js";
import { idSchema } from "../contract/rules.js";
import { applyResultBody } from "../server/wire-state.js";
import { CliError, EXIT, type GlobalOptions, runningDaemon } from "./context.js";

export async function stopServices(services: string[], options: GlobalOptions): Promise<void> {
  const client = await runningDaemon(options);
  const state = await client.get("/v1/state", desiredStateSchema);
  const chosen = chosenServices(services, state);
  // Dependents first, as compose stops them: a service never outlives its dependency by being stopped later.
  for (const id of stopOrder(state).flat()) {
    if (!chosen.has(id)) continue;
    if (runningScale(state.services[id]!) === 0) {
      process.stdout.write(`${id} is already stopped\n`);
      continue;
    }
    await client.post(`/v1/services/${id}/stop`, {}, applyResultBody);
    process.stdout.write(`${id} stopped\n`);
  }
}

export async function startServices(services: string[], options: GlobalOptions): Promise<void> {
  const client = await runningDaemon(options);
  const state = await client.get("/v1/state", desiredStateSchema);
  const chosen = chosenServices(services, state);
  for (const id of startOrder(state).flat()) {
    if (!chosen.has(id)) continue;
    const result = await client.post(`/v1/services/${id}/start`, {}, applyResultBody);
    for (const b of result.blocked) process.stderr.write(`${b.service} not started: ${b.by} ${b.reason}\n`);
    for (const w of result.waiting)
      process.stderr.write(`${w.service} not started: still waiting for ${w.dependency} to be ${w.condition}\n`);
    if (result.blocked.length > 0 || result.waiting.length > 0) throw new CliError("not every service started", EXIT.failed);
    const started = [...result.added, ...result.changed];
    process.stdout.write(started.length > 0 ? `started ${started.join(", ")}\n` : `${id} is already running\n`);
  }
}

/** The services named (every one of the state when none is); an unknown name is a usage error before anything changes. */
function chosenServices(services: string[], state: DesiredState): Set<string> {
  if (services.length === 0) return new Set(Object.keys(state.services));
  for (const name of services) {
    if (!idSchema.safeParse(name).success || !Object.hasOwn(state.services, name)) {
      const known = Object.keys(state.services).sort();
      throw new CliError(`no service named "${name}" (services: ${known.join(", ") || "none"})`, EXIT.usage);
    }
  }
  return new Set(services);
}
