// Lifecycle hooks and stop commands on real processes: order, environment,
// working directory, cgroup, timeouts, and what a failing hook does.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ServiceEvent } from "../../src/contract/types.js";
import { isPidAlive, nextEvent, orchestratorPerSuite, until, untilAllOnline } from "../helpers.js";

function lines(file: string): string[] {
  try {
    return readFileSync(file, "utf8").trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

describe("lifecycle hooks", () => {
  const suite = orchestratorPerSuite("hooks");
  const { env } = suite;

  it("run in order with the service's env, directory and cgroup; online waits for postStart; preStop precedes the stop signal", async () => {
    const ns = suite.orchestrator.namespace("order");
    const events = ns.watchServices();
    const seen: ServiceEvent[] = [];
    const order = join(env.root, "order");
    const cwd = join(env.root, "work");
    mkdirSync(cwd);
    await ns.ensureService("h", {
      image: "hooked",
      scale: 1,
      env: { ORDER_FILE: order, HOOK_VAR: "from-env" },
      workingDirectory: cwd,
      hooks: {
        preStart:
          'echo "preStart $HOOK_VAR $PWD" >> "$ORDER_FILE"; echo hello from preStart; grep -c "order-h-0" /proc/self/cgroup > "$ORDER_FILE.cgroup"',
        postStart: { command: 'echo "postStart $CORRAL_PID" >> "$ORDER_FILE"', timeoutMs: 5000 },
        preStop: ["/bin/sh", "-c", 'echo preStop >> "$ORDER_FILE"'],
        postStop: 'echo postStop >> "$ORDER_FILE"',
      },
    });
    const [online] = await untilAllOnline(events, "h", 1);
    const before = lines(order);
    assert.equal(before[0], `preStart from-env ${cwd}`, "preStart ran first, with the service's env and working directory");
    assert.ok(before.includes(`postStart ${online!.pid}`), `postStart ran before online and saw the process's PID: ${before.join(" | ")}`);
    // The program's own line comes when it gets to it (nothing gates online on it).
    await until(() => lines(order).includes(`main ${online!.pid}`), "the program to run");
    if (suite.orchestrator.launcher.kind === "cgroup")
      assert.equal(readFileSync(`${order}.cgroup`, "utf8").trim() !== "0", true, "the hook ran in the process's cgroup");

    const logged: string[] = [];
    for await (const line of ns.logs("h", 0)) logged.push(line.line);
    assert.ok(logged.includes("hello from preStart"), "a hook's output is in the process's log");

    await ns.dropService("h");
    await nextEvent(events, (e) => e.status === "offline" && e.reason === "stopped", { seen });
    const after = lines(order).filter((l) => (!l.startsWith("main ") && !l.startsWith("p")) || l === "preStop" || l === "postStop");
    assert.deepEqual(after, ["preStop", "signal TERM", "postStop"], "preStop before the stop signal, postStop once it ended");
    const hookEvents = seen.filter((e) => e.hook).map((e) => `${e.hook!.name}:${e.hook!.ok}`);
    assert.deepEqual(hookEvents, ["preStop:true", "postStop:true"], "each hook's result is an event");

    await events.return!();
  });

  it("a failing preStart fails the start: the process never runs, the restart policy retries it", async () => {
    const ns = suite.orchestrator.namespace("prefail");
    const events = ns.watchServices();
    const order = join(env.root, "prefail");
    await ns.ensureService("h", {
      image: "hooked",
      scale: 1,
      env: { ORDER_FILE: order },
      hooks: { preStart: 'echo attempt >> "$ORDER_FILE"; exit 3' },
    });
    const first = await nextEvent(events, (e) => e.reason === "spawn-failed");
    assert.match(first.message ?? "", /preStart hook exited 3/);
    const retried = await nextEvent(events, (e) => e.reason === "spawn-failed" && e.restartCount >= 1);
    assert.match(retried.message ?? "", /preStart hook exited 3/);
    assert.ok(
      lines(order).every((l) => l === "attempt"),
      "the program itself never ran",
    );
    await ns.dropService("h");
    await events.return!();
  });

  it("under restart: never a failing preStart is final", async () => {
    const ns = suite.orchestrator.namespace("prenever");
    const events = ns.watchServices();
    await ns.ensureService("h", { image: "sleeper", scale: 1, restartPolicy: "never", hooks: { preStart: ["false"] } });
    const failed = await nextEvent(events, (e) => e.reason === "spawn-failed");
    assert.equal(failed.final, true);
    await ns.dropService("h");
    await events.return!();
  });

  it("a hook that outlives its timeout is killed with what it started, and fails", async () => {
    const ns = suite.orchestrator.namespace("timeout");
    const events = ns.watchServices();
    const pidFile = join(env.root, "hook-sleep.pid");
    await ns.ensureService("h", {
      image: "sleeper",
      scale: 1,
      restartPolicy: "never",
      hooks: { preStart: { command: `sleep 1000 & echo $! > ${pidFile}; wait`, timeoutMs: 300 } },
    });
    const hook = await nextEvent(events, (e) => e.hook?.name === "preStart");
    assert.equal(hook.hook!.timedOut, true);
    assert.equal(hook.hook!.ok, false);
    const failed = await nextEvent(events, (e) => e.reason === "spawn-failed");
    assert.match(failed.message ?? "", /preStart hook timed out/);
    const sleeper = Number(readFileSync(pidFile, "utf8"));
    await until(() => !isPidAlive(sleeper), "the hook's child to be gone");
    await ns.dropService("h");
    await events.return!();
  });

  it("a failing postStart kills the process before it is ever online", async () => {
    const ns = suite.orchestrator.namespace("postfail");
    const events = ns.watchServices();
    const seen: ServiceEvent[] = [];
    await ns.ensureService("h", { image: "sleeper", scale: 1, restartPolicy: "never", hooks: { postStart: "exit 7" } });
    const ended = await nextEvent(events, (e) => e.final === true, { seen });
    assert.match(ended.message ?? "", /postStart hook exited 7/);
    assert.ok(!seen.some((e) => e.status === "online"), "never online");
    assert.equal(isPidAlive(ended.pid!), false);
    await ns.dropService("h");
    await events.return!();
  });

  it("stop.command stops the server; the stop signal follows only when it is still running after the grace period", async () => {
    const ns = suite.orchestrator.namespace("stopcmd");
    const events = ns.watchServices();
    const order = join(env.root, "stopcmd");
    await ns.ensureService("h", {
      image: "hooked",
      scale: 1,
      env: { ORDER_FILE: order },
      stop: { command: 'echo "stop command" >> "$ORDER_FILE"; kill -TERM "$CORRAL_PID"' },
    });
    await untilAllOnline(events, "h", 1);
    await until(() => lines(order).length > 0, "the program to install its trap");
    await ns.dropService("h");
    const stopped = await nextEvent(events, (e) => e.reason === "stopped");
    assert.equal(stopped.exitCode, 0, JSON.stringify(stopped));
    assert.deepEqual(lines(order).slice(1), ["stop command", "signal TERM"]);

    const order2 = join(env.root, "stopcmd2");
    await ns.ensureService("i", {
      image: "hooked",
      scale: 1,
      env: { ORDER_FILE: order2 },
      terminationGracePeriodMs: 300,
      stop: { command: 'echo "stop command that does nothing" >> "$ORDER_FILE"' },
    });
    await untilAllOnline(events, "i", 1);
    await until(() => lines(order2).length > 0, "the program to install its trap");
    await ns.dropService("i");
    assert.deepEqual(lines(order2).slice(1), ["stop command that does nothing", "signal TERM"], "the stop signal after the grace period");
    await events.return!();
  });
});
