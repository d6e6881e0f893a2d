import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync } from "node:fs";
import { Socket } from "node:net";
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

describe("log capture under a flood", () => {
  // No rotation within reach: the flooder's log file stays the named pipe the test makes.
  const suite = orchestratorPerSuite("logs-flood", { logRotation: { maxBytes: 2 ** 40, files: 2 } });
  const { env } = suite;

  it("a process whose log cannot be written fills its own pipe and blocks; the orchestrator and other processes go on; no line is lost", async (t) => {
    const ns = suite.orchestrator.namespace("flood");
    const logDir = join(env.config.stateDir!, "logs");
    mkdirSync(logDir, { recursive: true });
    // The flooder's log file is a named pipe nobody reads yet: corral's write into it cannot end
    // (a disk that does not answer). Holding it open read-write lets corral open it for appending.
    const logFile = join(logDir, "flood-f-0.log");
    assert.equal(spawnSync("mkfifo", [logFile]).status, 0, "mkfifo");
    const hold = openSync(logFile, constants.O_RDWR);
    const readers: Socket[] = [];
    // The last reader gone, corral's stuck write ends (EPIPE) whatever happened: nothing hangs.
    t.after(() => {
      for (const reader of readers) reader.destroy();
      closeSync(hold);
    });
    const blockedFile = join(env.root, "flooder-blocked");
    const doneFile = join(env.root, "flooder-done");
    const more = 20_000; // 2 MB: far beyond what the pipes and corral may hold for it
    const events = ns.watchServices();
    await ns.ensureService("tick", { image: "ticker", scale: 1 });
    await ns.ensureService("f", { image: "log-flooder.mjs", scale: 1, args: () => [blockedFile, String(more), doneFile] });
    await untilAllOnline(events, "f", 1);

    // Its non-blocking write failed with EAGAIN: the pipe is full, corral no longer reads it.
    const blockedAt = Number(await until(() => existsSync(blockedFile) && readFileSync(blockedFile, "utf8"), "the flooder's pipe to fill"));
    assert.ok(blockedAt > 0, "it wrote lines before its pipe was full");
    // The orchestrator answers, and another process's lines still reach its log.
    assert.equal((await ns.fetchServiceMetrics("f")).length, 1);
    const ticks = () => ns.readLogFiles("tick", 0).filter((l) => l.stream === "stdout").length;
    const before = ticks();
    await until(() => ticks() >= before + 5, "the ticker's lines while the flooder is blocked");
    assert.equal(existsSync(doneFile), false, "the flooder is held back: corral buffers a bounded amount for it, not its 2 MB");

    // Read the log: the flooder goes on, and every line it wrote arrives once, in order.
    let text = "";
    const drain = new Socket({ fd: openSync(logFile, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
    readers.push(drain);
    drain.setEncoding("utf8");
    drain.on("data", (chunk: string) => (text += chunk));
    await until(() => text.endsWith(" stdout done\n"), "the flooder's last line", 60_000);
    assert.ok(existsSync(doneFile));
    const numbers = text
      .split("\n")
      .filter((line) => / stdout line \d+ x+$/.test(line))
      .map((line) => Number(line.split(" ")[3]));
    assert.equal(numbers.length, blockedAt + more, "every line, none lost or doubled");
    assert.ok(
      numbers.every((n, i) => n === i),
      "in order",
    );
    await events.return!();
  });
});
