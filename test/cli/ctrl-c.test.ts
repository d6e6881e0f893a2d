// Ctrl-C in foreground `corral up`, typed into a real terminal (a tmux pane):
// the first stops every service gracefully and says so, a second leaves the
// rest running and says so, and one before everything is online stops what
// started. Afterwards /proc is checked for every process of the project.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isPidAlive, killEnvironment, processesOfEnvironment, until } from "../helpers.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "bin", "corral.js");

const tmux = (...args: string[]) => spawnSync("tmux", args, { encoding: "utf8" });

interface Terminal {
  dir: string;
  environment: string;
  screen(): string;
  ctrlC(): void;
  daemonPid(): number;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A project with `yaml`'s services and a tmux session (named for this run) running `corral up` in it. */
function upInTerminal(name: string, services: string): Terminal {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `corral-ctrlc-${name}-`)));
  const environment = `ctrlc-${name}-${process.pid}`;
  const session = `corral-test-${name}-${process.pid}`;
  writeFileSync(join(dir, "corral.yaml"), `environment: ${environment}\nservices:\n${services}`);
  cleanups.push(() => {
    tmux("kill-session", "-t", session);
    if (existsSync(join(dir, ".corral", "corral.sock")))
      spawnSync(process.execPath, [BIN, "down"], {
        cwd: dir,
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, CORRAL_STATE_DIR: "" },
      });
    killEnvironment(environment);
    rmSync(dir, { recursive: true, force: true });
  });
  // The pane stays after corral ends (`; sleep`), so its last words can be read.
  const started = tmux(
    "new-session",
    "-d",
    "-s",
    session,
    "-x",
    "200",
    "-y",
    "50",
    "-c",
    dir,
    `env NO_COLOR=1 CORRAL_STATE_DIR= ${process.execPath} ${BIN} up; echo "corral exited $?"; sleep 600`,
  );
  assert.equal(started.status, 0, started.stderr);
  return {
    dir,
    environment,
    screen: () => tmux("capture-pane", "-p", "-t", session, "-S", "-500").stdout,
    ctrlC: () => assert.equal(tmux("send-keys", "-t", session, "C-c").status, 0),
    daemonPid: () => (JSON.parse(readFileSync(join(dir, ".corral", "daemon.json"), "utf8")) as { pid: number }).pid,
  };
}

describe(
  "Ctrl-C in foreground corral up, in a terminal",
  { skip: spawnSync("tmux", ["-V"]).status !== 0 && "tmux is not installed" },
  () => {
    it("the first stops every service gracefully and says so", async () => {
      const t = upInTerminal(
        "once",
        `  web:
    command: node
    args: ["-e", "setInterval(() => console.log('tick'), 300)"]
    scale: 2
`,
      );
      await until(() => /\d+ process(es)? online/.test(t.screen()), "everything online", 60_000);
      const daemon = t.daemonPid();
      const pids = processesOfEnvironment(t.environment);
      assert.equal(pids.length, 2);
      t.ctrlC();
      await until(() => t.screen().includes("corral exited"), "corral ends", 60_000);
      const screen = t.screen();
      assert.match(screen, /stopping every service gracefully \(Ctrl-C again to leave them running\)/);
      assert.match(screen, /every service stopped; daemon gone/);
      assert.match(screen, /corral exited 0/);
      for (const pid of [...pids, daemon]) assert.ok(!isPidAlive(pid), `pid ${pid} is gone`);
      assert.deepEqual(processesOfEnvironment(t.environment), []);
    });

    it("a second leaves the rest running, says so, and the daemon stops stopping them", async () => {
      // front stops first (it depends on base) and takes 3 s of its grace period: the second Ctrl-C comes meanwhile.
      const t = upInTerminal(
        "twice",
        `  base:
    command: node
    args: ["-e", "setInterval(() => {}, 1e9)"]
  front:
    command: node
    args: ["-e", "process.on('SIGTERM', () => { console.log('front draining'); setTimeout(() => process.exit(0), 3000) }); setInterval(() => {}, 1e9)"]
    dependsOn: [base]
`,
      );
      await until(() => /\d+ process(es)? online/.test(t.screen()), "everything online", 60_000);
      const daemon = t.daemonPid();
      const pids = processesOfEnvironment(t.environment);
      assert.equal(pids.length, 2);
      t.ctrlC();
      await until(() => t.screen().includes("stopping every service gracefully"), "the first Ctrl-C taken");
      // The second Ctrl-C must come while front stops: before the daemon reaches it, leaving front running is right too.
      await until(() => t.screen().includes("front draining"), "front's stop begun");
      t.ctrlC();
      await until(() => t.screen().includes("corral exited"), "corral ends");
      assert.match(t.screen(), /leaving the services that still run running; `corral down` stops them/);
      // The daemon finishes front's stop, then exits without touching base.
      await until(() => !isPidAlive(daemon), "the daemon exits", 60_000);
      const left = processesOfEnvironment(t.environment);
      assert.equal(left.length, 1, "base still runs");
      assert.ok(isPidAlive(left[0]!));
      assert.match(readFileSync(`/proc/${left[0]}/cmdline`, "utf8"), /1e9/);
    });

    it("before everything is online, Ctrl-C stops what started", async () => {
      const t = upInTerminal(
        "early",
        `  started:
    command: node
    args: ["-e", "setInterval(() => {}, 1e9)"]
  never:
    command: node
    args: ["-e", "setInterval(() => {}, 1e9)"]
    readiness: { exec: ["false"] }
`,
      );
      await until(() => processesOfEnvironment(t.environment).length === 2, "both processes running", 60_000);
      const daemon = t.daemonPid();
      const pids = processesOfEnvironment(t.environment);
      assert.doesNotMatch(t.screen(), /\d+ process(es)? online/);
      t.ctrlC();
      await until(() => t.screen().includes("corral exited"), "corral ends", 60_000);
      assert.match(t.screen(), /stopping every service gracefully/);
      assert.match(t.screen(), /every service stopped; daemon gone/);
      for (const pid of [...pids, daemon]) assert.ok(!isPidAlive(pid), `pid ${pid} is gone`);
    });
  },
);
