// Liveness, startup and log-line probes and the crash-loop breaker, on real
// processes. Assertions are on events and pids (how many probes failed before
// the restart, which process was killed), never on how long something took.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServiceEvent } from "../../src/contract/types.js";
import { CrashLoopBreaker } from "../../src/process/crash-loop.js";
import { isPidAlive, nextEvent, orchestratorPerSuite, until, untilAllOnline } from "../helpers.js";

describe("crash-loop breaker (unit)", () => {
  it("trips on more than maxRestarts failures within the window, and forgets failures older than it", () => {
    let now = 0;
    const breaker = new CrashLoopBreaker({ maxRestarts: 2, windowMs: 1000 }, () => now);
    assert.equal(breaker.failed(), undefined);
    now = 500;
    assert.equal(breaker.failed(), undefined);
    now = 1200; // the first failure left the window
    assert.equal(breaker.failed(), undefined);
    now = 1300;
    assert.match(breaker.failed() ?? "", /^3 failed starts within 1 s \(restart.maxRestarts: 2\)/);
  });

  it("never trips without a limit", () => {
    const breaker = new CrashLoopBreaker(undefined);
    for (let i = 0; i < 100; i++) assert.equal(breaker.failed(), undefined);
  });
});

describe("liveness, startup and logLine probes", () => {
  const suite = orchestratorPerSuite("health", { rolloutTimeoutMs: 10_000 });

  it("liveness: a process that stops answering is killed after failureThreshold failed probes and restarted", async () => {
    const ns = suite.orchestrator.namespace("live");
    const events = ns.watchServices();
    const seen: ServiceEvent[] = [];
    await ns.ensureService("hung", {
      image: "http-health.mjs",
      scale: 1,
      ports: [{ name: "web" }],
      args: (a) => [a.listenAddrs.web!, "/nonexistent-sick-flag"],
      // The startup probe gives node the time it takes to listen (on a loaded machine, more than liveness allows).
      startup: { socket: "web", periodMs: 50, deadlineMs: 30_000 },
      liveness: { http: { port: "web", path: "/ready" }, periodMs: 100, timeoutMs: 200, failureThreshold: 3 },
      terminationGracePeriodMs: 300,
    });
    const [first] = await untilAllOnline(events, "hung", 1);
    const passing = await nextEvent(events, (e) => e.probes?.liveness?.passed === true, { seen });
    assert.equal(passing.pid, first!.pid, "liveness results are events of the process");
    // A hung process: it exists and its socket accepts connections (the kernel does that), but it answers nothing.
    process.kill(first!.pid!, "SIGSTOP");
    const failed = await nextEvent(events, (e) => e.reason === "liveness-failed", { seen });
    assert.equal(failed.pid, first!.pid);
    assert.match(failed.message ?? "", /liveness probe failed 3 times in a row: timed out after 200 ms/);
    assert.equal(failed.probes?.liveness?.passed, false);
    assert.equal(failed.probes?.liveness?.failures, 3, "killed at the third failure in a row, not later: within period × threshold");
    const exited = await nextEvent(events, (e) => e.reason === "liveness-failed" && e.signal !== undefined, { seen });
    assert.equal(exited.signal, "SIGKILL", "a stopped process cannot handle SIGTERM: SIGKILL after the grace period");
    const back = await nextEvent(events, (e) => e.status === "online", { seen });
    assert.notEqual(back.pid, first!.pid, "a new process");
    assert.equal(back.restartCount, 1);
    assert.equal(isPidAlive(first!.pid!), false, "the hung process is gone");
    await events.return!();
    await ns.dropService("hung");
  });

  it("startup: a process that never starts is killed at the deadline (startup-timeout); liveness did not count meanwhile", async () => {
    const ns = suite.orchestrator.namespace("never");
    const events = ns.watchServices();
    const seen: ServiceEvent[] = [];
    await ns.ensureService("n", {
      image: "sleeper",
      scale: 1,
      restartPolicy: "never",
      startup: { exec: ["false"], periodMs: 50, deadlineMs: 1000 },
      liveness: { exec: ["false"], periodMs: 50, failureThreshold: 1 },
    });
    const timeout = await nextEvent(events, (e) => e.reason === "startup-timeout", { seen });
    assert.match(timeout.message ?? "", /startup probe did not pass within 1000 ms: exit status 1/);
    const ended = await nextEvent(events, (e) => e.final === true, { seen });
    assert.equal(ended.reason, "startup-timeout");
    assert.equal(isPidAlive(timeout.pid!), false);
    assert.ok(!seen.some((e) => e.reason === "liveness-failed"), "liveness does not run before startup passed");
    assert.equal(seen.find((e) => e.probes?.liveness) ?? null, null);
    await events.return!();
    await ns.dropService("n");
  });

  it("startup: a slow starter that passes before the deadline is not killed, then liveness and readiness run", async () => {
    const ns = suite.orchestrator.namespace("slow");
    const events = ns.watchServices();
    const seen: ServiceEvent[] = [];
    await ns.ensureService("s", {
      image: "slow-listener.mjs",
      scale: 1,
      ports: [{ name: "app" }],
      args: (a) => [a.listenAddrs.app!, "1500"],
      startup: { socket: "app", periodMs: 50, deadlineMs: 20_000 },
      // Would kill the process at its first failure if it counted during startup.
      liveness: { socket: "app", periodMs: 50, failureThreshold: 1 },
      readiness: { socket: "app", periodMs: 50 },
    });
    const online = await nextEvent(events, (e) => e.status === "online", { seen });
    assert.equal(online.restartCount, 0);
    assert.equal(online.probes?.startup?.passed, true);
    assert.ok(
      seen.some((e) => e.probes?.startup?.passed === false),
      "the startup probe failed while the process was starting",
    );
    const live = await nextEvent(events, (e) => e.probes?.liveness?.passed === true, { seen });
    assert.equal(live.pid, online.pid);
    assert.ok(!seen.some((e) => e.reason === "liveness-failed" || e.reason === "startup-timeout"));
    await events.return!();
    await ns.dropService("s");
  });

  it("readiness logLine: online on the line printed after 1 s, not on the lines before it", async () => {
    const ns = suite.orchestrator.namespace("line");
    const events = ns.watchServices();
    const seen: ServiceEvent[] = [];
    await ns.ensureService("db", {
      image: "/bin/sh",
      scale: 1,
      args: () => [
        "-c",
        "echo booting; echo 'ready soon' >&2; sleep 1; echo 'database system is ready to accept connections' >&2; exec sleep 1000",
      ],
      readiness: { logLine: "ready to accept connections$" },
    });
    const online = await nextEvent(events, (e) => e.serviceId === "db" && e.status === "online", { seen });
    const lines = [];
    for await (const line of ns.logs("db", 0)) lines.push(line);
    const ready = lines.find((l) => l.line.endsWith("ready to accept connections"));
    assert.ok(ready, "the line is in the log");
    assert.equal(ready.stream, "stderr");
    const before = lines.filter((l) => l.line === "booting" || l.line === "ready soon");
    assert.equal(before.length, 2);
    assert.ok(online.time >= ready.time, "online comes after the matching line");
    const starting = seen.filter((e) => e.reason === "starting");
    assert.ok(starting.length > 0 && starting.every((e) => e.time <= online.time));
    assert.ok(
      before.every((l) => !seen.some((e) => e.status === "online" && e.time < ready.time && e.time >= l.time)),
      "the lines before it did not make the process online",
    );
    assert.equal(online.probes?.readiness?.passed, true);
    await events.return!();
    await ns.dropService("db");
  });
});

describe("crash-loop breaker", () => {
  const suite = orchestratorPerSuite("crashloop", { restartBackoff: { initialMs: 10, maxMs: 50, jitter: 0 } });

  it("5 failed starts within the window: crash-loop, final, no more restarts; a restart replaces it", async () => {
    const ns = suite.orchestrator.namespace("loop");
    const events = ns.watchServices();
    const seen: ServiceEvent[] = [];
    await ns.ensureService("bad", {
      image: "exit-with",
      args: () => ["3"],
      scale: 1,
      restartLimit: { maxRestarts: 4, windowMs: 60_000 },
    });
    const loop = await nextEvent(events, (e) => e.reason === "crash-loop", { seen });
    assert.equal(loop.final, true);
    assert.equal(loop.exitCode, 3);
    assert.equal(loop.restartCount, 4);
    assert.match(loop.message ?? "", /^5 failed starts within 60 s \(restart.maxRestarts: 4\).*exited with status 3/);
    assert.equal(seen.filter((e) => e.reason === "exited").length, 5);
    // Nothing restarts it: the next status is the one a restart causes.
    const restarted = ns.restartService("bad").catch((error: unknown) => error);
    const fresh = await nextEvent(events, (e) => e.reason === "exited" && e.restartCount === 0, { seen });
    assert.equal(seen.filter((e) => e.reason === "exited").length, 6, "no start between the crash-loop and the restart");
    assert.ok(fresh.pid !== loop.pid);
    await restarted;
    await events.return!();
    await ns.dropService("bad");
  });

  it("without a limit it keeps restarting, shown as crash-looping from the 5th quick failure", async () => {
    const ns = suite.orchestrator.namespace("forever");
    const events = ns.watchServices();
    const seen: ServiceEvent[] = [];
    await ns.ensureService("bad", { image: "exit-with", args: () => ["1"], scale: 1 });
    const looping = await nextEvent(events, (e) => e.crashLooping === true, { seen });
    assert.equal(looping.reason, "backoff");
    assert.equal(seen.filter((e) => e.reason === "exited").length, 5);
    assert.match(looping.message ?? "", /^crash-looping \(5 quick failures in a row\)/);
    await nextEvent(events, (e) => e.reason === "exited" && e.restartCount === 5, { seen });
    assert.ok(!seen.some((e) => e.reason === "crash-loop"));
    await events.return!();
    await ns.dropService("bad");
    await until(() => true, "dropped");
  });
});
