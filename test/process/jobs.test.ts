// One-shot jobs on real processes: an exit that no restart follows says so
// (`final`), its last output is in the log when the event comes, a job's
// changed config runs it again, and a probe that has not passed yet says why.
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { LogLine, ServiceEvent } from "../../src/contract/types.js";
import { nextEvent, orchestratorPerSuite, until } from "../helpers.js";

const ended = (e: ServiceEvent) => ["completed", "exited", "crashed", "spawn-failed"].includes(e.reason ?? "");

async function lines(iterator: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const all: LogLine[] = [];
  for await (const line of iterator) all.push(line);
  return all;
}

describe("one-shot jobs", () => {
  const suite = orchestratorPerSuite("jobs");
  const { env } = suite;

  it("restart: never — a completed job and a failed one are final, and nothing restarts them", async () => {
    const ns = suite.orchestrator.namespace("never");
    const events = ns.watchServices();
    await ns.ensureService("ok", { image: "exit-with", args: () => ["0"], scale: 1, restartPolicy: "never" });
    const ok = await nextEvent(events, (e) => e.serviceId === "ok" && ended(e));
    assert.equal(ok.reason, "completed");
    assert.equal(ok.final, true);
    await ns.ensureService("bad", { image: "exit-with", args: () => ["3"], scale: 1, restartPolicy: "never" });
    const bad = await nextEvent(events, (e) => e.serviceId === "bad" && ended(e));
    assert.equal(bad.reason, "exited");
    assert.equal(bad.exitCode, 3);
    assert.equal(bad.final, true);
    // The snapshot keeps saying so: a watcher that comes later knows the jobs are done.
    const snapshot = ns.watchServices();
    const states = [(await snapshot.next()).value as ServiceEvent, (await snapshot.next()).value as ServiceEvent];
    await snapshot.return!();
    assert.deepEqual(
      states.map((e) => [e.serviceId, e.reason, e.final, e.restartCount]),
      [
        ["bad", "exited", true, 0],
        ["ok", "completed", true, 0],
      ],
    );
    await events.return!();
  });

  it("on-failure: a clean exit is final, a failure is not (it restarts); always: no exit is final", async () => {
    const ns = suite.orchestrator.namespace("policies");
    const events = ns.watchServices();
    await ns.ensureService("clean", { image: "exit-with", args: () => ["0"], scale: 1, restartPolicy: "on-failure" });
    assert.equal((await nextEvent(events, (e) => e.serviceId === "clean" && ended(e))).final, true);
    await ns.ensureService("failing", { image: "exit-with", args: () => ["1"], scale: 1, restartPolicy: "on-failure" });
    const failing = await nextEvent(events, (e) => e.serviceId === "failing" && ended(e));
    assert.equal(failing.final, undefined);
    await nextEvent(events, (e) => e.serviceId === "failing" && e.restartCount === 1);
    await ns.dropService("failing");
    await ns.ensureService("loop", { image: "exit-with", args: () => ["0"], scale: 1 });
    const loop = await nextEvent(events, (e) => e.serviceId === "loop" && ended(e));
    assert.equal(loop.reason, "completed");
    assert.equal(loop.final, undefined, "restart: always starts it again");
    await ns.dropService("loop");
    await events.return!();
  });

  it("a program that cannot start under restart: never is a failed job too", async () => {
    const ns = suite.orchestrator.namespace("spawn");
    const events = ns.watchServices();
    await ns.ensureService("broken", { image: "broken-interpreter", scale: 1, restartPolicy: "never" });
    const failed = await nextEvent(events, (e) => e.serviceId === "broken" && e.status === "offline" && e.reason !== "starting");
    assert.ok(failed.reason === "spawn-failed" || failed.reason === "exited", `got ${failed.reason}`);
    assert.equal(failed.final, true);
    await events.return!();
  });

  it("the exit event comes after the job's last lines are in its log", async () => {
    const ns = suite.orchestrator.namespace("lastwords");
    const events = ns.watchServices();
    const script = join(env.root, "last-words.sh");
    writeFileSync(script, `#!/bin/sh\nfor i in 1 2 3 4 5; do echo "step $i"; done\necho "fatal: the last words" >&2\nexit 4\n`, {
      mode: 0o755,
    });
    await ns.ensureService("job", { image: script, scale: 1, restartPolicy: "never" });
    const exit = await nextEvent(events, (e) => e.serviceId === "job" && ended(e));
    assert.equal(exit.exitCode, 4);
    // Read at once, as `corral up` does when it reports the failure.
    const log = await lines(ns.logs("job", 0));
    assert.deepEqual(
      log.filter((l) => l.stream === "stderr").map((l) => l.line),
      ["fatal: the last words"],
    );
    assert.equal(log.filter((l) => l.stream === "stdout").length, 5);
    await events.return!();
  });

  it("a job whose config changed runs again, and the change completes when it does", async () => {
    const ns = suite.orchestrator.namespace("rerun");
    const events = ns.watchServices();
    const marker = join(env.root, "runs");
    const config = (greeting: string) => ({
      image: "/bin/sh",
      args: () => ["-c", `echo ${greeting} >> ${marker}`],
      scale: 1,
      restartPolicy: "never" as const,
    });
    await ns.ensureService("migrate", config("first"));
    await nextEvent(events, (e) => e.serviceId === "migrate" && e.reason === "completed");
    await ns.ensureService("migrate", config("second"));
    await nextEvent(events, (e) => e.serviceId === "migrate" && e.reason === "completed" && e.final === true);
    assert.deepEqual(readFileSync(marker, "utf8").trim().split("\n"), ["first", "second"]);
    await events.return!();
  });
});

describe("a readiness probe that has not passed yet says why", () => {
  const suite = orchestratorPerSuite("probe-why");
  const { env } = suite;

  it("socket: the connect error, e.g. ENOENT of the socket path", async () => {
    const ns = suite.orchestrator.namespace("sock");
    const events = ns.watchServices();
    const service = await ns.ensureService("db", { image: "sleeper", scale: 1, ports: [{ name: "sql" }], readiness: { socket: "sql" } });
    const why = await nextEvent(events, (e) => e.reason === "starting" && e.message !== undefined);
    assert.equal(why.status, "offline");
    assert.equal(why.message, `connect ENOENT ${service.addresses("sql")[0]}`);
    await events.return!();
  });

  it("http: the status, and online once it passes", async () => {
    const ns = suite.orchestrator.namespace("http");
    const events = ns.watchServices();
    const sick = join(env.root, "sick");
    writeFileSync(sick, "");
    await ns.ensureService("h", {
      image: "http-health.mjs",
      scale: 1,
      ports: [{ name: "web" }],
      args: (a) => [a.listenAddrs.web!, sick],
      readiness: { http: { port: "web", path: "/ready" }, periodMs: 50 },
    });
    await nextEvent(events, (e) => e.reason === "starting" && e.message === "HTTP 503");
    rmSync(sick);
    const next = await nextEvent(events, (e) => e.serviceId === "h");
    assert.equal(next.status, "online", "the same reason is not said again before it passes");
    await events.return!();
  });

  it("exec: the exit status, published once however often the probe fails the same way", async () => {
    const ns = suite.orchestrator.namespace("exec");
    const events = ns.watchServices();
    const attempts = join(env.root, "attempts");
    writeFileSync(attempts, "");
    const probe = join(env.root, "probe.sh");
    writeFileSync(probe, `#!/bin/sh\necho x >> ${attempts}\nexit 1\n`, { mode: 0o755 });
    await ns.ensureService("e", { image: "sleeper", scale: 1, readiness: { exec: [probe], periodMs: 50 } });
    const seen: ServiceEvent[] = [];
    await nextEvent(events, (e) => e.message === "exit status 1", { seen });
    await until(() => readFileSync(attempts, "utf8").split("\n").length > 10, "ten failed probes");
    // Whatever came meanwhile is queued already: a marker event ends the look.
    await ns.ensureService("marker", { image: "sleeper", scale: 1 });
    await nextEvent(events, (e) => e.serviceId === "marker", { seen });
    const ofE = seen.filter((e) => e.serviceId === "e");
    assert.deepEqual(
      ofE.map((e) => [e.reason, e.message]),
      [
        ["starting", undefined],
        ["starting", "exit status 1"],
      ],
      "one event per reason, not one per probe",
    );
    await events.return!();
  });
});
