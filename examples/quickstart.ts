// corral's quickstart: two real services as supervised local processes.
// Prints every status event, the callers' output (prefixed with the process
// name), a relaunch after a SIGKILL, a scale-up and the processes' metrics,
// then stops everything.
//   npm run example
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ProcessOrchestrator, type ServiceEvent } from "../src/index.js";

const work = await mkdtemp(join(tmpdir(), "corral-quickstart-"));
const orchestrator = await ProcessOrchestrator.create({
  imageDir: join(dirname(fileURLToPath(import.meta.url)), "images"),
  environmentId: "quickstart",
  stateDir: join(work, "state"),
  scratchDirectory: join(work, "scratch"),
  secretsDir: join(work, "secrets"),
  restartBackoff: { initialMs: 200, maxMs: 2000 },
});
const ns = orchestrator.namespace("demo");

const events = ns.watchServices();
const describe = (e: ServiceEvent) =>
  `event: ${e.serviceId}-${e.processId} ${e.status}${e.reason ? ` (${e.reason})` : ""}${e.pid ? ` pid=${e.pid}` : ""} restarts=${e.restartCount}`;
async function until(predicate: (e: ServiceEvent) => boolean): Promise<ServiceEvent> {
  for (;;) {
    const { value, done } = await events.next();
    if (done) throw new Error("event stream ended");
    console.log(describe(value));
    if (predicate(value)) return value;
  }
}

const greeters = await ns.ensureService("greeter", {
  image: "greeter.mjs",
  scale: 2,
  ports: [{ name: "greet" }],
  args: ({ listenAddrs, processIndex }) => [listenAddrs.greet!, String(processIndex)],
});
await ns.ensureService("caller", { image: "caller.mjs", scale: 1, args: () => greeters.addresses("greet") });
console.log("greeters listen on", greeters.addresses("greet"));

const online = new Map<string, number>();
await until((e) => {
  if (e.status === "online") online.set(`${e.serviceId}-${e.processId}`, e.pid!);
  return online.size === 3;
});

// Let the caller print a couple of rounds, then kill a greeter: corral relaunches it.
await new Promise((resolve) => setTimeout(resolve, 1200));
console.log("killing greeter-1 with SIGKILL");
process.kill(online.get("greeter-1")!, "SIGKILL");
await until((e) => e.serviceId === "greeter" && e.processId === 1 && e.status === "online");

console.log("scaling greeter to 3 (only greeter-2 starts)");
await ns.ensureService("greeter", {
  image: "greeter.mjs",
  scale: 3,
  ports: [{ name: "greet" }],
  args: ({ listenAddrs, processIndex }) => [listenAddrs.greet!, String(processIndex)],
});
await until((e) => e.serviceId === "greeter" && e.processId === 2 && e.status === "online");

await new Promise((resolve) => setTimeout(resolve, 1200));
for (const [i, m] of (await ns.fetchServiceMetrics("greeter")).entries()) {
  console.log(
    `metrics: greeter-${i} cpu=${((m.cpuNanoCores ?? 0) / 1e6).toFixed(1)} millicores memory=${((m.memoryBytes ?? 0) / 2 ** 20).toFixed(1)} MiB`,
  );
}
console.log("services:", await ns.listServices());

await ns.dropService("caller");
await ns.dropService("greeter");
await events.return!();
await orchestrator.close();
await rm(work, { recursive: true, force: true });
console.log("done: every process stopped");
