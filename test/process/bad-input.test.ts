import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { OrchestratorClosedError, UnknownServiceError, ValidationError } from "../../src/index.js";
import { nextEvent, orchestratorPerSuite, untilAllOnline } from "../helpers.js";

describe("bad input on the process backend", () => {
  const suite = orchestratorPerSuite("bad");
  const { env } = suite;

  // The orchestrator's own log directory exists from the start; nothing else may appear.
  const stateEntries = () => (existsSync(env.config.stateDir!) ? readdirSync(env.config.stateDir!).filter((e) => e !== "logs") : []);

  it("refuses bad input with the field named, writing nothing and starting nothing", async () => {
    const ns = suite.orchestrator.namespace("bad");
    const cases: [string, unknown, string][] = [
      ["Bad_Id", { image: "sleeper", scale: 1 }, "service id"],
      ["ok", { image: "sleeper", scale: -1 }, "scale"],
      ["ok", { image: "sleeper", scale: 1, ports: [{ name: "a" }, { name: "a" }] }, "ports[1].name"],
      ["ok", { image: "sleeper", scale: 1, memoryLimit: "a lot" }, "memoryLimit"],
      ["ok", { image: "no-such-image", scale: 1 }, "image"],
      ["ok", { image: "../wrapper.sh", scale: 1 }, "image"],
      ["ok", { image: "/nonexistent/binary", scale: 1 }, "image"],
      ["ok", { image: "sleeper", scale: 1, args: () => [42] }, "args"],
      [
        "ok",
        {
          image: "sleeper",
          scale: 1,
          args: () => {
            throw new Error("boom");
          },
        },
        "args",
      ],
    ];
    for (const [id, config, field] of cases) {
      await assert.rejects(
        ns.ensureService(id, config as never),
        (e: unknown) => e instanceof ValidationError && e.field === field,
        `${id} ${JSON.stringify(config)} should be refused on ${field}`,
      );
    }
    assert.deepEqual(stateEntries(), []);
    assert.deepEqual(env.processes(), []);
    assert.throws(
      () => suite.orchestrator.namespace("Not Valid"),
      (e: unknown) => e instanceof ValidationError && e.field === "namespace",
    );
    await assert.rejects(ns.dropService("../../etc"), ValidationError);
    await assert.rejects(ns.fetchServiceMetrics("unknown"), UnknownServiceError);
  });

  it("refuses a bad orchestrator config", async () => {
    const { ProcessOrchestrator } = await import("../../src/process/orchestrator.js");
    await assert.rejects(
      ProcessOrchestrator.create({ ...env.config, environmentId: "has spaces" }),
      (e: unknown) => e instanceof ValidationError && e.field === "environmentId",
    );
    await assert.rejects(
      ProcessOrchestrator.create({ ...env.config, imageDir: join(env.root, "missing") }),
      (e: unknown) => e instanceof ValidationError && e.field === "imageDir",
    );
    await assert.rejects(
      ProcessOrchestrator.create({ ...env.config, restartBackoff: { jitter: 2 } }),
      (e: unknown) => e instanceof ValidationError && e.field === "restartBackoff.jitter",
    );
  });

  it("reports a process that cannot be spawned as an event, retries it, and never crashes the host", async () => {
    const ns = suite.orchestrator.namespace("spawn");
    const events = ns.watchServices();
    await ns.ensureService("broken", { image: "broken-interpreter", scale: 1 });
    const failed = await nextEvent(events, (e) => e.status === "offline" && e.reason === "spawn-failed");
    assert.match(failed.message ?? "", /ENOENT/);
    const retried = await nextEvent(events, (e) => e.status === "offline" && e.reason === "spawn-failed" && e.restartCount >= 1);
    assert.equal(retried.serviceId, "broken");
    // A fix rolls the failing process, like any other config change.
    await ns.ensureService("broken", { image: "sleeper", scale: 1 });
    const fresh = ns.watchServices();
    const [online] = await untilAllOnline(fresh, "broken", 1);
    assert.equal(typeof online!.pid, "number");
    await ns.dropService("broken");
    await events.return!();
    await fresh.return!();
  });

  it("refuses every call after close()", async () => {
    const closing = await env.create();
    const ns = closing.namespace("n");
    await closing.close();
    await assert.rejects(ns.ensureService("a", { image: "sleeper", scale: 1 }), OrchestratorClosedError);
    assert.throws(() => closing.namespace("n"), OrchestratorClosedError);
  });
});
