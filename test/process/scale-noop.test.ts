// "The same config is a no-op" for args that use peerAddrs: each process is
// compared with the config evaluated at the scale it was launched for, as the
// Kubernetes backend compares each pod, so a scale change followed by an
// identical ensure (or an adoption at the new scale) restarts nothing.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { ServiceConfig, ServiceEvent } from "../../src/contract/types.js";
import type { NamespacedProcessOrchestrator } from "../../src/process/namespace.js";
import { nextEvent, testEnvironment, untilAllOnline } from "../helpers.js";

const peers = (scale: number): ServiceConfig => ({
  image: "sleeper",
  scale,
  ports: [{ name: "p" }],
  args: (a) => ["--me", a.listenAddrs["p"]!, "--peers", a.peerAddrs.map((peer) => peer["p"]).join(",")],
});

/**
 * Every event of `serviceId` published until a marker service comes online: the
 * marker is ensured after everything under test, in the same queue, so its
 * online event comes after any event the calls before it caused.
 */
async function eventsUntilMarker(
  ns: NamespacedProcessOrchestrator,
  events: AsyncIterator<ServiceEvent>,
  serviceId: string,
  marker: string,
) {
  await ns.ensureService(marker, { image: "sleeper", scale: 1 });
  const seen: ServiceEvent[] = [];
  await nextEvent(events, (e) => e.serviceId === marker && e.status === "online", { seen });
  return seen.filter((e) => e.serviceId === serviceId);
}

function pidsOf(ns: NamespacedProcessOrchestrator, serviceId: string): (number | undefined)[] {
  const statuses = ns.processStatuses().find((s) => s.serviceId === serviceId);
  return (statuses?.processes ?? []).map((p) => (p.status === "online" ? p.pid : undefined));
}

describe("a scale change is not a config change (args with peerAddrs)", () => {
  const env = testEnvironment("scale-noop");
  after(() => env.cleanup());

  it("scale 2 -> 3, then the identical config again: no process restarts", async () => {
    const orchestrator = await env.create();
    const ns = orchestrator.namespace("grow");
    const events = ns.watchServices();
    await ns.ensureService("s", peers(2));
    const before = (await untilAllOnline(events, "s", 2)).map((e) => e.pid);

    await ns.ensureService("s", peers(3));
    await nextEvent(events, (e) => e.processId === 2 && e.status === "online");
    const grown = pidsOf(ns, "s");
    assert.deepEqual(grown.slice(0, 2), before, "the scale-up keeps processes 0 and 1");

    await ns.ensureService("s", peers(3));
    const after = await eventsUntilMarker(ns, events, "s", "marker");
    assert.deepEqual(after, [], "an identical ensure publishes nothing for the service");
    assert.deepEqual(pidsOf(ns, "s"), grown, "same processes");

    // Anything else that changes still rolls.
    await ns.ensureService("s", { ...peers(3), env: { CHANGED: "1" } });
    const rolled = pidsOf(ns, "s");
    for (const [i, pid] of rolled.entries()) assert.notEqual(pid, grown[i], `process ${i} replaced by a real change`);
    await events.return!();
    await orchestrator.close();
  });

  it("a new orchestrator adopting at the new scale restarts nothing", async () => {
    const first = await env.create();
    const ns = first.namespace("adopt");
    const events = ns.watchServices();
    await ns.ensureService("s", peers(2));
    await untilAllOnline(events, "s", 2);
    await ns.ensureService("s", peers(3));
    await nextEvent(events, (e) => e.processId === 2 && e.status === "online");
    const pids = pidsOf(ns, "s");
    await events.return!();
    await first.close({ leaveRunning: true });

    const second = await env.create();
    const adopted = second.namespace("adopt");
    const watch = adopted.watchServices();
    await adopted.ensureService("s", peers(3));
    const seen = await eventsUntilMarker(adopted, watch, "s", "marker");
    assert.equal(
      seen.filter((e) => e.status === "offline").length,
      0,
      `no process went offline: ${seen.map((e) => `${e.processId}:${e.status}:${e.reason ?? ""}`).join(" ")}`,
    );
    assert.deepEqual(pidsOf(adopted, "s"), pids, "the same processes, adopted");
    await watch.return!();
    await second.close();
  });
});
