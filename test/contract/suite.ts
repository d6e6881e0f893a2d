/**
 * The contract every backend keeps (DESIGN.md, "Behaviour every backend keeps"),
 * written once. Each backend runs it through a harness (harness.ts): the process
 * backend always, Kubernetes against the fake API server always and against a real
 * cluster when KUBECONFIG points at one.
 *
 * Every test gets its own world (temp dirs, fake server or name prefix) and
 * removes it afterwards, pass or fail. Waits are on watch events, never on
 * sleeps; "nothing else happened" is shown by a fence: a later change whose
 * event must arrive after any event the earlier change would have caused.
 */
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { UnknownServiceError, ValidationError } from "../../src/contract/errors.js";
import type { NamespacedOrchestrator, Orchestrator, ServiceConfig, ServiceEvent } from "../../src/contract/types.js";
import type { Backend, BackendHarness, ContractCheck, ProgramKind } from "./harness.js";
import { Watcher, brief, key } from "./watcher.js";

interface World {
  t: TestContext;
  h: BackendHarness;
  o: Orchestrator;
  /** A watcher on `ns`, closed with the test. */
  watch(ns: NamespacedOrchestrator): Watcher;
  /** A service config running `kind`. */
  config(scale: number, extra?: Partial<ServiceConfig>, kind?: ProgramKind): ServiceConfig;
  /** Runs one assertion as its own subtest: a `todo` where the backend is known to break it. */
  check(name: ContractCheck, assertion: () => Promise<void>): Promise<void>;
}

export function contractSuite(backend: Backend): void {
  const bound = backend.boundMs;

  function contract(name: string, body: (world: World) => Promise<void>): void {
    it(name, { timeout: bound * 6 }, async (t) => {
      const h = await backend.start();
      const watchers: Watcher[] = [];
      t.after(async () => {
        await Promise.allSettled(watchers.map((w) => w.close()));
        await h.cleanup();
      });
      const o = await h.create();
      await body({
        t,
        h,
        o,
        watch(ns) {
          const w = new Watcher(ns.watchServices(), bound);
          watchers.push(w);
          return w;
        },
        config: (scale, extra = {}, kind = "sleeper") => ({ ...h.image(kind), scale, terminationGracePeriodMs: 2_000, ...extra }),
        async check(check, assertion) {
          const todo = backend.todo?.[check];
          await t.test(check, todo ? { todo } : {}, assertion);
        },
      });
    });
  }

  describe(`the contract on ${backend.name}`, { skip: backend.skip }, () => {
    contract("namespace() hands out one orchestrator per name", async ({ o }) => {
      const a = o.namespace("alpha");
      assert.equal(o.namespace("alpha"), a);
      assert.notEqual(o.namespace("beta"), a);
      assert.equal(o.namespace("beta"), o.namespace("beta"));
    });

    contract(
      "calls on a namespace apply in order: listServices sees every ensure and drop made before it",
      async ({ h, o, config, check }) => {
        const ns = o.namespace("order");
        // Nothing awaited in between: the namespace's queue alone orders the calls.
        await check("listServices sees an ensure made before it", async () => {
          const ensures = [ns.ensureService("a", config(1)), ns.ensureService("b", config(1))];
          const listed = ns.listServices();
          await Promise.allSettled(ensures);
          assert.deepEqual([...(await listed)].sort(), ["a", "b"]);
        });
        await ns.ensureService("a", config(1));
        await ns.ensureService("b", config(1));
        await check("listServices sees a drop made before it", async () => {
          const drop = ns.dropService("a");
          const listed = ns.listServices();
          await drop;
          assert.deepEqual(await listed, ["b"]);
        });
        await ns.dropService("a");
        await check("a drop made right after an ensure wins", async () => {
          const ensure = ns.ensureService("c", config(1));
          const drop = ns.dropService("c");
          await Promise.allSettled([ensure, drop]);
          assert.deepEqual(await ns.listServices(), ["b"], "c was ensured, then dropped: it must not be left running");
        });
        await ns.dropService("c");
        assert.deepEqual(await ns.listServices(), ["b"]);
        assert.deepEqual(await o.namespace("other").listServices(), [], "other namespaces do not see them");
        // Services outlive the orchestrator object that made them: another one lists them too.
        const later = await h.create();
        assert.deepEqual(await later.namespace("order").listServices(), ["b"]);
      },
    );

    contract("ensureService with the same config is a no-op", async ({ h, o, watch, config }) => {
      const ns = o.namespace("same");
      const w = watch(ns);
      // A fresh but equal config object each time (new args closure included), as a control plane sends it.
      const same = () => config(2, { ports: [{ name: "p" }], env: { MODE: "x" }, labels: { team: "a" } });
      await ns.ensureService("s", same());
      await w.online("s", 2);
      const before = [await h.identity("same", "s", 0), await h.identity("same", "s", 1)];

      const service = await ns.ensureService("s", same());
      assert.equal(service.addresses("p").length, 2);
      // The fence: the marker's events come after any the second ensure caused.
      await ns.ensureService("marker", config(1));
      const read = await w.until(() => w.isOnline("marker", 0), "the marker online");
      assert.deepEqual(read.filter((e) => e.serviceId === "s").map(brief), [], "no event for the unchanged service");
      assert.deepEqual([await h.identity("same", "s", 0), await h.identity("same", "s", 1)], before, "the same processes still run");
    });

    contract("a new scale adds or removes the highest-numbered processes only", async ({ h, o, watch, config }) => {
      const ns = o.namespace("scale");
      const w = watch(ns);
      const ports = [{ name: "p" }];
      await ns.ensureService("s", config(2, { ports }));
      await w.online("s", 2);
      const first = [await h.identity("scale", "s", 0), await h.identity("scale", "s", 1)];

      const up = await ns.ensureService("s", config(4, { ports }));
      assert.equal(up.addresses("p").length, 4);
      await ns.ensureService("marker", config(1));
      const grown = await w.until(
        () => w.isOnline("s", 2) && w.isOnline("s", 3) && w.isOnline("marker", 0),
        "s/2, s/3 and the marker online",
      );
      assert.deepEqual(
        grown.filter((e) => e.serviceId === "s" && e.processId < 2).map(brief),
        [],
        "processes 0 and 1 untouched by the scale-up",
      );
      assert.deepEqual([await h.identity("scale", "s", 0), await h.identity("scale", "s", 1)], first);

      const down = await ns.ensureService("s", config(1, { ports }));
      assert.equal(down.addresses("p").length, 1);
      await ns.dropService("marker");
      const shrunk = await w.until(
        () => [1, 2, 3].every((i) => w.latest.get(`s/${i}`)?.status === "offline") && w.latest.get("marker/0")?.status === "offline",
        "s/1..3 and the marker offline",
      );
      assert.deepEqual(
        shrunk.filter((e) => e.serviceId === "s" && e.processId === 0).map(brief),
        [],
        "process 0 untouched by the scale-down",
      );
      for (const i of [1, 2, 3]) assert.equal(w.latest.get(`s/${i}`)?.reason, "stopped", `s/${i} was stopped`);
      assert.equal(await h.identity("scale", "s", 0), first[0]);
      assert.equal((await ns.fetchServiceMetrics("s")).length, 1);
    });

    contract("scale 0 keeps the service with no process; a later scale starts processes again", async ({ o, watch, config }) => {
      const ns = o.namespace("zero");
      const w = watch(ns);
      const ports = [{ name: "p" }];
      await ns.ensureService("s", config(2, { ports }));
      await w.online("s", 2);

      const none = await ns.ensureService("s", config(0, { ports }));
      assert.deepEqual(none.addresses("p"), [], "no process, no address");
      assert.throws(() => none.addresses("nope"), ValidationError, "its ports are still known");
      await w.until(() => [0, 1].every((i) => w.latest.get(`s/${i}`)?.status === "offline"), "s/0 and s/1 offline");
      for (const i of [0, 1]) assert.equal(w.latest.get(`s/${i}`)?.reason, "stopped", `s/${i} was stopped`);
      assert.deepEqual(await ns.listServices(), ["s"], "the service is kept");
      assert.deepEqual(await ns.fetchServiceMetrics("s"), []);

      // Created at scale 0: kept and listed, nothing runs, no event.
      const from = w.seen.length;
      await ns.ensureService("idle", config(0));
      await ns.ensureService("s", config(0, { ports }));
      await ns.ensureService("marker", config(1));
      await w.until(() => w.isOnline("marker", 0), "the marker online");
      assert.deepEqual(
        w.seen
          .slice(from)
          .filter((e) => e.serviceId !== "marker")
          .map(brief),
        [],
        "no event for a service of scale 0",
      );
      assert.deepEqual(await ns.listServices(), ["idle", "marker", "s"]);

      const back = await ns.ensureService("s", config(1, { ports }));
      assert.equal(back.addresses("p").length, 1);
      await w.until(() => w.isOnline("s", 0), "s/0 online again");
      await ns.dropService("idle");
      assert.deepEqual(await ns.listServices(), ["marker", "s"]);
    });

    contract(
      "a scale change, then the same config again, replaces nothing, also with args that list every peer",
      async ({ h, o, watch, config }) => {
        const ns = o.namespace("peers");
        const w = watch(ns);
        const ports = [{ name: "p" }];
        // Every process's args change with the scale: the peer list grows.
        const peers = (scale: number) => config(scale, { ports, args: (a) => ["--peers", a.peerAddrs.map((peer) => peer["p"]).join(",")] });
        await ns.ensureService("s", peers(2));
        await w.online("s", 2);
        const first = [await h.identity("peers", "s", 0), await h.identity("peers", "s", 1)];
        await ns.ensureService("s", peers(3));
        await w.until(() => w.isOnline("s", 2), "s/2 online");

        const from = w.seen.length;
        await ns.ensureService("s", peers(3));
        await ns.ensureService("marker", config(1));
        await w.until(() => w.isOnline("marker", 0), "the marker online");
        assert.deepEqual(
          w.seen
            .slice(from)
            .filter((e) => e.serviceId === "s")
            .map(brief),
          [],
          "no event for the unchanged service",
        );
        assert.deepEqual([await h.identity("peers", "s", 0), await h.identity("peers", "s", 1)], first, "processes 0 and 1 still run");
      },
    );

    contract("overlapping next() calls on one watch each get an event", async ({ o, config }) => {
      const ns = o.namespace("overlap");
      const events = ns.watchServices()[Symbol.asyncIterator]();
      try {
        const reads = Promise.all([events.next(), events.next()]);
        await ns.ensureService("s", config(2));
        let timer: NodeJS.Timeout | undefined;
        const bounded = new Promise<"bound">((resolve) => (timer = setTimeout(() => resolve("bound"), bound)));
        const results = await Promise.race([reads, bounded]);
        clearTimeout(timer);
        assert.notEqual(results, "bound", `both reads resolve within ${bound} ms`);
        if (results !== "bound") for (const result of results) assert.equal(result.done, false);
      } finally {
        await events.return?.();
      }
    });

    contract("a change of anything else replaces the processes one at a time", async ({ h, o, watch, config }) => {
      const ns = o.namespace("roll");
      const w = watch(ns);
      await ns.ensureService("s", config(3, { env: { VERSION: "1" } }));
      await w.online("s", 3);
      const before = await Promise.all([0, 1, 2].map((i) => h.identity("roll", "s", i)));

      const from = w.seen.length;
      await ns.ensureService("s", config(3, { env: { VERSION: "2" } }));
      await ns.ensureService("marker", config(1));
      await w.until(() => w.isOnline("marker", 0), "the marker online");
      await w.online("s", 3);
      const during = w.seen.slice(from).filter((e) => e.serviceId === "s");
      const offline = new Set<number>();
      let most = 0;
      for (const e of during) {
        if (e.status === "offline") offline.add(e.processId);
        else offline.delete(e.processId);
        most = Math.max(most, offline.size);
      }
      assert.equal(most, 1, `at most one process offline at a time: ${JSON.stringify(during.map(brief))}`);
      for (const i of [0, 1, 2])
        assert.ok(
          during.some((e) => e.processId === i && e.status === "offline"),
          `s/${i} was replaced`,
        );
      const after = await Promise.all([0, 1, 2].map((i) => h.identity("roll", "s", i)));
      for (const i of [0, 1, 2]) assert.notEqual(after[i], before[i], `s/${i} is a new process`);
    });

    contract("addresses(port): one per process, in order; an unknown port throws", async ({ o, config }) => {
      const ns = o.namespace("addr");
      const service = await ns.ensureService("s", config(3, { ports: [{ name: "p" }, { name: "q", portHint: 7000 }] }));
      for (const port of ["p", "q"]) {
        const addresses = service.addresses(port);
        assert.equal(addresses.length, 3);
        assert.equal(new Set(addresses).size, 3, "a distinct address per process");
        assert.ok(addresses.every((a) => typeof a === "string" && a.length > 0));
      }
      assert.notDeepEqual(service.addresses("p"), service.addresses("q"));
      assert.throws(() => service.addresses("nope"), ValidationError);
      assert.throws(() => service.addresses(""), ValidationError);
      const fewer = await ns.ensureService("s", config(2, { ports: [{ name: "p" }, { name: "q", portHint: 7000 }] }));
      assert.deepEqual(fewer.addresses("p"), service.addresses("p").slice(0, 2), "the remaining processes keep their addresses");
    });

    contract(
      "serviceAddress(port): one address for the whole service, the same across scale changes; an unknown port throws",
      async ({ o, config }) => {
        const ns = o.namespace("svcaddr");
        const service = await ns.ensureService("s", config(2, { ports: [{ name: "p" }, { name: "q" }] }));
        const p = service.serviceAddress("p");
        assert.ok(typeof p === "string" && p.length > 0);
        assert.notEqual(p, service.serviceAddress("q"), "one per port");
        assert.ok(!service.addresses("p").includes(p), "not any one process's address");
        assert.throws(() => service.serviceAddress("nope"), ValidationError);
        const more = await ns.ensureService("s", config(3, { ports: [{ name: "p" }, { name: "q" }] }));
        assert.equal(more.serviceAddress("p"), p, "a scale change keeps it");
      },
    );

    contract("dropService stops the processes, is idempotent, and accepts unknown ids", async ({ o, watch, config }) => {
      const ns = o.namespace("drop");
      const w = watch(ns);
      await ns.ensureService("a", config(2));
      await w.online("a", 2);
      await ns.dropService("a");
      await w.until(() => w.latest.get("a/0")?.status === "offline" && w.latest.get("a/1")?.status === "offline", "a/0 and a/1 offline");
      await ns.dropService("a");
      await ns.dropService("never-was");
      await o.namespace("never-used").dropService("a");
      assert.deepEqual(await ns.listServices(), []);

      // A new watcher's snapshot has no process of the dropped service.
      await ns.ensureService("marker", config(1));
      const fresh = watch(ns);
      const read = await fresh.until(() => fresh.isOnline("marker", 0), "the marker online");
      assert.deepEqual(read.filter((e) => e.serviceId === "a").map(brief), []);
    });

    contract("watchServices yields one event per existing process first, then every change", async ({ o, watch, config }) => {
      const ns = o.namespace("snap");
      const warmup = watch(ns);
      await ns.ensureService("a", config(2));
      await ns.ensureService("b", config(1));
      await warmup.online("a", 2);
      await warmup.online("b", 1);
      await warmup.close();

      const w = watch(ns);
      const snapshot = [await w.next("the snapshot"), await w.next("the snapshot"), await w.next("the snapshot")];
      assert.deepEqual(snapshot.map(brief).sort(), ["a/0:online#0", "a/1:online#0", "b/0:online#0"]);
      for (const e of snapshot) {
        assert.ok(e.time instanceof Date && !Number.isNaN(e.time.getTime()), "time is a Date");
        assert.equal(typeof e.restartCount, "number");
      }
      await ns.dropService("b");
      const change = await w.next("the drop's event");
      assert.equal(key(change), "b/0");
      assert.equal(change.status, "offline");
      await ns.ensureService("c", config(1));
      await w.until(() => w.isOnline("c", 0), "c/0 online");
      assert.ok(
        w.seen.every((e) => e.serviceId !== "a" || e.status === "online"),
        "a was not touched",
      );
    });

    contract("watchServices ends when its signal aborts (also mid-wait), on return() and on break", async ({ o, config }) => {
      const ns = o.namespace("end");
      await ns.ensureService("s", config(1));

      const controller = new AbortController();
      const aborted = new Watcher(ns.watchServices({ signal: controller.signal }), bound);
      await aborted.until(() => aborted.isOnline("s", 0), "s/0 online");
      const pending = ns.watchServices({ signal: controller.signal })[Symbol.asyncIterator]();
      const first = await within(bound, "the snapshot", pending.next());
      assert.equal(first.done, false);
      const waiting = pending.next(); // nothing more to come: it waits
      controller.abort();
      assert.equal((await within(bound, "the aborted read", waiting)).done, true);
      assert.equal(await aborted.ended(), true);

      const collected: ServiceEvent[] = [];
      for await (const e of ns.watchServices({ signal: AbortSignal.abort() })) collected.push(e);
      assert.deepEqual(collected, [], "an aborted signal: no events at all");

      const returned = ns.watchServices()[Symbol.asyncIterator]();
      assert.equal((await within(bound, "the snapshot", returned.next())).done, false);
      await returned.return?.();
      assert.equal((await within(bound, "a read after return()", returned.next())).done, true);

      let count = 0;
      for await (const _ of ns.watchServices()) {
        count++;
        break;
      }
      assert.equal(count, 1);

      // The orchestrator is unaffected by its watchers leaving.
      await ns.ensureService("t", config(1));
      const w = new Watcher(ns.watchServices(), bound);
      try {
        await w.until(() => w.isOnline("t", 0) && w.isOnline("s", 0), "s/0 and t/0 online");
      } finally {
        await w.close();
      }
    });

    contract(
      "a process that crashes goes offline with a reason, then comes back with restartCount + 1",
      async ({ h, o, watch, config }) => {
        const ns = o.namespace("crash");
        const w = watch(ns);
        await ns.ensureService("s", config(2));
        await w.online("s", 2);
        const before = w.latest.get("s/1")!;
        const survivor = await h.identity("crash", "s", 0);

        const from = w.seen.length;
        await h.crash("crash", "s", 1);
        const down = await w.untilEvent((e) => key(e) === "s/1" && e.status === "offline", "s/1 offline");
        assert.equal(typeof down.reason, "string");
        assert.ok(down.reason!.length > 0, "offline says why");
        const up = await w.untilEvent((e) => key(e) === "s/1" && e.status === "online", "s/1 back online");
        assert.equal(up.restartCount, before.restartCount + 1);
        assert.deepEqual(
          w.seen
            .slice(from)
            .filter((e) => key(e) === "s/0")
            .map(brief),
          [],
          "the other process is untouched",
        );
        assert.equal(await h.identity("crash", "s", 0), survivor);
      },
    );

    contract(
      "a watcher that does not read never blocks the orchestrator and is resynchronised with the latest state",
      async ({ h, watch, config }) => {
        const o = await h.create({ watchBufferSize: 3 });
        const ns = o.namespace("slow");
        const slow = watch(ns); // not read until the end
        const fast = watch(ns);
        await ns.ensureService("s", config(6));
        await fast.online("s", 6);
        await h.crash("slow", "s", 2);
        await fast.untilEvent((e) => key(e) === "s/2" && e.status === "online", "s/2 back online");
        await ns.ensureService("t", config(1)); // not held up by the watcher that fell behind
        await fast.until(() => fast.isOnline("t", 0), "t/0 online");

        await slow.until(
          () =>
            [0, 1, 2, 3, 4, 5].every((i) => slow.isOnline("s", i)) && slow.latest.get("s/2")!.restartCount === 1 && slow.isOnline("t", 0),
          "the latest state on the slow watcher",
        );
        // Fell 3 events behind long ago: it saw a fresh snapshot, not every transition.
        assert.ok(
          slow.seen.length < fast.seen.length,
          `the slow watcher was resynchronised (${slow.seen.length} events vs ${fast.seen.length})`,
        );
      },
    );

    contract("liveness and startup probes and a restart limit: the service comes online with them", async ({ o, watch, config }) => {
      const ns = o.namespace("health");
      const w = watch(ns);
      await ns.ensureService(
        "s",
        config(2, {
          // exec probes: the program of both backends' images has no port to probe.
          startup: { exec: ["true"], periodMs: 100, deadlineMs: 30_000 },
          liveness: { exec: ["true"], periodMs: 1000, failureThreshold: 3 },
          readiness: { exec: ["true"], periodMs: 100 },
          restartLimit: { maxRestarts: 5, windowMs: 60_000 },
        }),
      );
      await w.online("s", 2);
      await ns.dropService("s");
    });
    contract(
      "lifecycle hooks are part of the config: the same ones are a no-op, a changed one replaces, a bad one is refused",
      async ({ h, o, watch, config }) => {
        const ns = o.namespace("hooks");
        const w = watch(ns);
        const hooked = (drain: string) => config(2, { hooks: { postStart: ["true"], preStop: { command: drain, timeoutMs: 5000 } } });
        await ns.ensureService("s", hooked("exit 0"));
        await w.online("s", 2);
        const before = [await h.identity("hooks", "s", 0), await h.identity("hooks", "s", 1)];
        await ns.ensureService("s", hooked("exit 0"));
        await ns.ensureService("marker", config(1));
        const read = await w.until(() => w.isOnline("marker", 0), "the marker online");
        assert.deepEqual(read.filter((e) => e.serviceId === "s" && !e.hook).map(brief), [], "no status change for the unchanged service");
        assert.deepEqual([await h.identity("hooks", "s", 0), await h.identity("hooks", "s", 1)], before);

        const from = w.seen.length;
        await ns.ensureService("s", hooked("true"));
        await w.until(
          () => [0, 1].every((i) => w.seen.slice(from).some((e) => e.serviceId === "s" && e.processId === i && e.status === "offline")),
          "both replaced",
        );
        await w.online("s", 2);
        const after = [await h.identity("hooks", "s", 0), await h.identity("hooks", "s", 1)];
        for (const i of [0, 1]) assert.notEqual(after[i], before[i], `s/${i} is a new process`);

        await assert.rejects(
          ns.ensureService("bad", config(1, { hooks: { preStart: [] } })),
          (e: unknown) => e instanceof ValidationError && e.field === "hooks.preStart",
        );
        await assert.rejects(
          ns.ensureService("bad", config(1, { stop: { command: "" } })),
          (e: unknown) => e instanceof ValidationError && e.field === "stop.command",
        );
      },
    );

    contract("bad input is refused with a ValidationError naming the field, and nothing is created", async ({ h, o, config, check }) => {
      const ns = o.namespace("bad");
      const before = await h.footprint();
      const refused = async (call: Promise<unknown>, field: string) => {
        await assert.rejects(call, (e: unknown) => {
          assert.ok(e instanceof ValidationError, `expected a ValidationError, got ${String(e)}`);
          assert.equal(e.field, field, e.message);
          return true;
        });
      };
      await refused(ns.ensureService("ok", config(-1)), "scale");
      await refused(ns.ensureService("ok", config(1.5)), "scale");
      await refused(ns.ensureService("ok", config(1, { ports: [{ name: "a" }, { name: "a" }] })), "ports[1].name");
      await refused(ns.ensureService("ok", config(1, { ports: [{ name: "Bad_Port" }] })), "ports[0].name");
      await refused(ns.ensureService("ok", config(1, { memoryLimit: "a lot" as never })), "memoryLimit");
      await refused(ns.ensureService("ok", config(1, { cpuLimit: "fast" as never })), "cpuLimit");
      await refused(ns.ensureService("ok", config(1, { diskLimit: "huge" as never })), "diskLimit");
      await refused(
        ns.ensureService(
          "ok",
          config(1, {
            args: () => {
              throw new Error("boom");
            },
          }),
        ),
        "args",
      );
      assert.throws(
        () => o.namespace("Not Valid"),
        (e: unknown) => e instanceof ValidationError && e.field === "namespace",
      );
      assert.throws(
        () => o.namespace("x".repeat(64)),
        (e: unknown) => e instanceof ValidationError && e.field === "namespace",
      );
      // The health model's fields (issue 15): a probe has one kind, names a declared port.
      await refused(ns.ensureService("ok", config(1, { liveness: { exec: ["true"], socket: "p" } })), "liveness.exec");
      await refused(ns.ensureService("ok", config(1, { startup: { exec: ["true"], deadlineMs: 0 } })), "startup.deadlineMs");
      await refused(ns.ensureService("ok", config(1, { readiness: { logLine: "(" } })), "readiness.logLine");
      await refused(ns.ensureService("ok", config(1, { restartLimit: { maxRestarts: 1.5 } })), "restartLimit.maxRestarts");
      await check("bad input names the field: service id", async () => {
        for (const id of ["Bad_Id", "-a", "a-", "a.b", "../etc", "x".repeat(64), ""]) {
          await refused(ns.ensureService(id, config(1)), "service id");
        }
        await refused(ns.dropService("../x"), "service id");
        await refused(ns.fetchServiceMetrics("UPPER"), "service id");
      });
      assert.deepEqual(await h.footprint(), before, "nothing was written or started");
      assert.deepEqual(await ns.listServices(), []);
      // The namespace still works.
      await ns.ensureService("ok", config(1));
      assert.deepEqual(await ns.listServices(), ["ok"]);
    });

    contract("fetchServiceMetrics returns one entry per process and refuses an unknown service", async ({ o, watch, config, check }) => {
      const ns = o.namespace("metrics");
      const w = watch(ns);
      await ns.ensureService("s", config(3));
      await w.online("s", 3);
      const metrics = await ns.fetchServiceMetrics("s");
      assert.equal(metrics.length, 3);
      for (const m of metrics) {
        assert.deepEqual(Object.keys(m).sort(), ["cpuNanoCores", "diskBytes", "memoryBytes"]);
        for (const value of Object.values(m))
          assert.ok(value === null || (typeof value === "number" && value >= 0), `a number or null: ${String(value)}`);
      }
      await assert.rejects(ns.fetchServiceMetrics("nope"), UnknownServiceError);
      await assert.rejects(o.namespace("elsewhere").fetchServiceMetrics("s"), UnknownServiceError);

      await check("fetchServiceMetrics sees an ensure made before it", async () => {
        const ensuring = ns.ensureService("t", config(2));
        const queued = ns.fetchServiceMetrics("t");
        queued.catch(() => {}); // awaited below, after the ensure
        await ensuring;
        assert.equal((await queued).length, 2);
      });
      await ns.ensureService("t", config(2));
      await check("fetchServiceMetrics sees a drop made before it", async () => {
        const dropping = ns.dropService("t");
        const queued = ns.fetchServiceMetrics("t");
        queued.catch(() => {}); // awaited below, after the drop
        await dropping;
        await assert.rejects(queued, UnknownServiceError);
      });
    });

    contract("logs() yields each process's own output lines", async ({ t, o, watch, config }) => {
      const ns = o.namespace("logs");
      if (typeof ns.logs !== "function") return t.skip(`${backend.name} does not serve logs()`);
      const w = watch(ns);
      await ns.ensureService("p", config(2, {}, "printer"));
      await w.online("p", 2);
      for (const i of [0, 1]) {
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), bound);
        const lines: string[] = [];
        try {
          for await (const line of ns.logs("p", i, { follow: true, signal: controller.signal })) {
            assert.ok(line.time instanceof Date && !Number.isNaN(line.time.getTime()));
            assert.ok(line.stream === "stdout" || line.stream === "stderr");
            lines.push(line.line);
            if (line.line === `out-line ${i}`) break;
          }
        } finally {
          clearTimeout(timer);
          controller.abort();
        }
        assert.ok(lines.includes(`out-line ${i}`), `process ${i} printed its line: ${JSON.stringify(lines)}`);
        assert.ok(!lines.includes(`out-line ${1 - i}`), "and not the other process's");
      }
      // A follow with nothing to read (only new lines, and the printer prints no more) ends when its signal aborts.
      const quiet = new AbortController();
      const following = ns.logs("p", 1, { tail: 0, follow: true, signal: quiet.signal })[Symbol.asyncIterator]();
      const pending = following.next();
      quiet.abort();
      assert.equal((await within(bound, "the end of an aborted follow", pending)).done, true);

      await assert.rejects(async () => {
        for await (const _ of ns.logs!("never-was", 0)) void _;
      }, "logs of an unknown service are refused");
    });
  });
}

async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`gave up after ${ms} ms waiting for ${what}`)), ms)),
  );
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}
