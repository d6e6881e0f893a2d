import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { LogLine } from "../../src/contract/types.js";
import { FIXTURES, orchestratorPerSuite, testEnvironment, until, untilAllOnline } from "../helpers.js";

async function collect(lines: AsyncIterable<LogLine>, predicate: (line: LogLine, all: LogLine[]) => boolean): Promise<LogLine[]> {
  const all: LogLine[] = [];
  for await (const line of lines) {
    all.push(line);
    if (predicate(line, all)) break;
  }
  return all;
}

describe("log capture", () => {
  const suite = orchestratorPerSuite("logs", { logRotation: { maxBytes: 4096, files: 3 } });
  const { env } = suite;

  it("records each line with its time and stream; tail gives the last ones; follow streams new ones", async () => {
    const ns = suite.orchestrator.namespace("tick");
    const events = ns.watchServices();
    await ns.ensureService("t", { image: "ticker", scale: 1 });
    await untilAllOnline(events, "t", 1);
    const file = join(env.config.stateDir!, "logs", "tick-t-0.log");
    await until(() => existsSync(file) && statSync(file).size > 200, "some lines in the log file");
    const tail = await collect(ns.logs("t", 0, { tail: 3 }), () => false);
    assert.equal(tail.length, 3);
    assert.ok(tail.every((l) => l.time instanceof Date && !Number.isNaN(l.time.getTime())));
    const stderr = await collect(ns.logs("t", 0), () => false);
    assert.ok(stderr.some((l) => l.stream === "stderr" && l.line === "tock 0"));
    assert.ok(stderr.some((l) => l.stream === "stdout" && l.line === "tick 0"));

    const controller = new AbortController();
    const last = Number(tail.at(-1)!.line.split(" ")[1] ?? 0);
    const followed = await collect(
      ns.logs("t", 0, { tail: 0, follow: true, signal: controller.signal }),
      (l) => l.line === `tick ${last + 20}`,
    );
    assert.ok(followed.length >= 10, "lines written after the call arrive");
    assert.ok(
      followed.every((l) => !l.line.startsWith("tick ") || Number(l.line.split(" ")[1]) > last - 2),
      "only new lines",
    );
    controller.abort();
    assert.throws(() => ns.logs("t", 5), /has 1 processes/);
    await events.return!();
  });

  it("rotates by size and keeps the configured number of files", async () => {
    const ns = suite.orchestrator.namespace("rot");
    const events = ns.watchServices();
    await ns.ensureService("c", { image: "chatty", scale: 1, args: () => ["300"] });
    await untilAllOnline(events, "c", 1);
    const dir = join(env.config.stateDir!, "logs");
    await until(() => {
      const lines = [...ns.readLogFiles("c", 0)];
      return lines.at(-1)?.line.startsWith("line 299");
    }, "the last line to be logged");
    const files = readdirSync(dir)
      .filter((f) => f.startsWith("rot-c-0.log"))
      .sort();
    assert.deepEqual(files, ["rot-c-0.log", "rot-c-0.log.1", "rot-c-0.log.2"]);
    for (const f of files) assert.ok(statSync(join(dir, f)).size <= 4096, `${f} is within the rotation size`);
    const kept = ns.readLogFiles("c", 0);
    const numbers = kept.map((l) => Number(l.line.split(" ")[1]));
    assert.deepEqual(
      numbers,
      numbers.slice().sort((a, b) => a - b),
      "oldest first, in order across files",
    );
    assert.equal(numbers.at(-1), 299);
    await ns.dropService("c");
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith("rot-c-")),
      [],
      "drop removes the logs",
    );
    await events.return!();
  });

  it("an adopted process keeps writing where it was: no EPIPE when its orchestrator dies", async () => {
    const hostEnv = testEnvironment("logs-adopt");
    try {
      const host = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          join(FIXTURES, "host.ts"),
          JSON.stringify({ orchestrator: hostEnv.config, services: [{ namespace: "a", id: "t", image: "ticker", scale: 1 }] }),
        ],
        {
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      let out = "";
      host.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      const ready = await until(() => out.split("\n").find((l) => l.startsWith('{"ready"')), "the host");
      const pid = (JSON.parse(ready) as { pids: Record<string, number[]> }).pids["a/t"]![0]!;
      // Killed between lines, not while the first one is in flight: a chunk the dying
      // orchestrator had read but not yet written is the one thing that can be lost.
      const logFile = join(hostEnv.config.stateDir!, "logs", "a-t-0.log");
      await until(() => existsSync(logFile) && readFileSync(logFile, "utf8").includes("tick 3"), "the host to log a few lines");
      host.kill("SIGKILL");
      await once(host, "exit");
      const orchestrator2 = await hostEnv.create();
      const ns = orchestrator2.namespace("a");
      const events = ns.watchServices();
      await ns.ensureService("t", { image: "ticker", scale: 1 });
      const [adopted] = await untilAllOnline(events, "t", 1);
      assert.equal(adopted!.pid, pid, "adopted, not restarted");
      // The lines written while no orchestrator read them wait in the pipe; the new instance drains them.
      await until(() => ns.readLogFiles("t", 0).filter((l) => l.stream === "stdout").length >= 5, "the adopted process's lines");
      const history = await collect(ns.logs("t", 0), () => false);
      const lastBefore = Number(
        history
          .filter((l) => l.stream === "stdout")
          .at(-1)!
          .line.split(" ")[1],
      );
      const next = await collect(
        ns.logs("t", 0, { tail: 0, follow: true }),
        (l) => l.stream === "stdout" && Number(l.line.split(" ")[1]) >= lastBefore + 10,
      );
      const numbers = [...history, ...next].filter((l) => l.stream === "stdout").map((l) => Number(l.line.split(" ")[1]));
      assert.deepEqual(
        numbers,
        Array.from({ length: numbers.length }, (_, i) => i),
        "every tick, none lost across the orchestrator's death",
      );
      assert.equal((await ns.fetchServiceMetrics("t"))[0]!.memoryBytes !== null, true);
      await events.return!();
    } finally {
      await hostEnv.cleanup();
    }
  });
});
