// corral driver for the shared harness (../shared/bench, "Adding a driver"):
// the manager is bench/corral-host.mjs, a Node process running the library's
// ProcessOrchestrator (dist/) with one service of n processes, restart
// back-off 0, suppressOutput. Children are the host's direct children
// (launcher "direct": the image itself; "cgroup": a sh that joins the
// process's cgroup and execs the image, same pid), so the generic /proc
// discovery of BaseDriver works as for raw.
//
// Built by a factory because the driver must extend the harness's BaseDriver
// and share its reaper module instance, and the harness lives outside the
// project (resolved at run time).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { waitAdoptedGone } from "./adopted.mjs";
import { removeCorralCgroups } from "./cgroups.mjs";
import { packageRootFile } from "../package-root.mjs";
import { createInterface } from "node:readline";

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = resolve(here, "../..");
const HOST = join(projectRoot, "bench", "corral-host.mjs");

export async function createCorralDriver(
  sharedDir,
  { launcher = "cgroup", name = `corral-${launcher}`, src = false, entry = "index", favorDynmods = false } = {},
) {
  const imp = (p) => import(pathToFileURL(join(sharedDir, p)).href);
  const { BaseDriver, waitExit } = await imp("drivers/common.mjs");
  const { spawnTracked, addExitHook } = await imp("lib/reaper.mjs");
  const { withTimeout } = await imp("lib/timing.mjs");

  class CorralDriver extends BaseDriver {
    constructor() {
      super(name);
      this.launcher = launcher;
      this.host = null;
      this.runSeq = 0;
    }

    async version() {
      try {
        const pkg = JSON.parse((await import("node:fs")).readFileSync(join(projectRoot, "package.json"), "utf8"));
        return `corral ${pkg.version} (${src ? "src via tsx" : "dist"}, ${entry === "process" ? "process backend only" : "package root"}), launcher ${launcher}${favorDynmods ? " with favordynmods mounted" : ""}, node ${process.version}`;
      } catch {
        return null;
      }
    }

    async available() {
      if (!src && !existsSync(packageRootFile(projectRoot))) return `${packageRootFile(projectRoot)} missing: run \`npm run build\``;
      if (favorDynmods && process.getuid?.() !== 0) return "mounting a cgroup hierarchy needs root";
      if (launcher === "cgroup") {
        // The library refuses at create() when cgroups are unusable; say so up front.
        if (process.getuid?.() !== 0) return "cgroup launcher needs root here";
        if (!existsSync("/sys/fs/cgroup/memory") && !existsSync("/sys/fs/cgroup/cgroup.controllers")) return "no cgroup memory controller";
      }
      return true;
    }

    async setup(workdir) {
      this.reset();
      if (favorDynmods) this.mountFavorDynmods(workdir);
      this.workdir = workdir;
      this.host = null;
      this.hostInfo = null;
      // A fresh environment per run: its own state dir and cgroups, never shared with another run.
      this.environmentId = `bench-${process.pid}-${++this.runSeq}-${Date.now() % 1e6}`;
    }

    orchestratorConfig() {
      const w = this.workdir;
      return {
        imageDir: w,
        environmentId: this.environmentId,
        scratchDirectory: join(w, "scratch"),
        secretsDir: join(w, "secrets"),
        stateDir: join(w, "state"),
        suppressOutput: true,
        launcher,
        restartBackoff: { initialMs: 0, maxMs: 0, multiplier: 1, jitter: 0, resetAfterMs: 0 },
      };
    }

    roots() {
      return this.host?.pid && this.host.exitCode === null && this.host.signalCode === null ? [this.host.pid] : [];
    }

    /** Starts a host process; resolves once it is spawned (not once it is ready). */
    spawnHost(n, command) {
      const cfg = { orchestrator: this.orchestratorConfig(), n, argv: command.argv };
      const nodeArgs = src ? ["--import", "tsx"] : [];
      const env = {
        ...process.env,
        ...(src ? { CORRAL_BENCH_SRC: "1" } : {}),
        ...(entry === "process" ? { CORRAL_BENCH_ENTRY: "process" } : {}),
      };
      const child = spawnTracked(process.execPath, [...nodeArgs, HOST, JSON.stringify(cfg)], {
        stdio: ["pipe", "pipe", "inherit"],
        cwd: projectRoot,
        env,
      });
      const h = { child, pid: child.pid, waiters: new Map(), got: new Map(), exitCode: null, signalCode: null };
      child.once("exit", (c, s) => {
        h.exitCode = c ?? -1;
        h.signalCode = s;
        for (const [, ws] of h.waiters) for (const w of ws) w.reject(new Error(`corral host exited (${c ?? s})`));
        h.waiters.clear();
      });
      createInterface({ input: child.stdout }).on("line", (line) => {
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          return;
        }
        const ws = h.waiters.get(msg.op);
        if (ws?.length) ws.shift().resolve(msg);
        else h.got.set(msg.op, msg);
        if (msg.op === "error") process.stderr.write(`[corral-host] ${msg.error}\n`);
      });
      child.stdin.on("error", () => {});
      return h;
    }

    /** Next message of type `op` from host `h` (or the one that already came). */
    expect(h, op, timeoutMs = 120000) {
      if (h.got.has(op)) {
        const m = h.got.get(op);
        h.got.delete(op);
        return Promise.resolve(m);
      }
      if (h.exitCode !== null) return Promise.reject(new Error(`corral host exited (${h.exitCode ?? h.signalCode})`));
      const p = new Promise((res, rej) => {
        if (!h.waiters.has(op)) h.waiters.set(op, []);
        h.waiters.get(op).push({ resolve: res, reject: rej });
      });
      return withTimeout(p, timeoutMs, `corral host: ${op}`);
    }

    async request(op, extra = {}, timeoutMs = 120000) {
      const h = this.host;
      if (!h || h.exitCode !== null) throw new Error("corral host not running");
      const p = this.expect(h, op === "drop" ? "dropped" : op === "close" ? "closed" : op, timeoutMs);
      h.child.stdin.write(JSON.stringify({ op, ...extra }) + "\n");
      return p;
    }

    async startAll(n, command, { timeoutMs = 120000 } = {}) {
      this.n = n;
      this.command = command;
      this.host = this.spawnHost(n, command);
      // corral's own view (events) is collected while the harness polls /proc.
      this.hostInfo = Promise.all([this.expect(this.host, "ensured", timeoutMs), this.expect(this.host, "online", timeoutMs)]).then(
        ([ensured, online]) => ({ ...ensured, ...online }),
      );
      this.hostInfo.catch(() => {});
      const pids = await this.waitForN(n, { timeoutMs });
      this.known = new Set(pids);
      return pids;
    }

    /** corral's timestamps of the last start: ensured / all online (hrtime ns, as BigInt). */
    async startInfo() {
      return this.hostInfo;
    }

    async listPids() {
      return (await this.request("list")).pids;
    }

    async markEvents() {
      await this.request("mark");
    }
    async events() {
      return (await this.request("events")).events;
    }
    async metrics(reps) {
      return this.request("metrics", { reps }, 120000);
    }

    async stopAll({ timeoutMs = 60000 } = {}) {
      const p = this.request("drop", {}, timeoutMs);
      await this.waitAllGone({ timeoutMs });
      this.dropped = await p;
    }

    /**
     * Adoption: the running host lets go of its processes (close leaveRunning)
     * and exits; a new host with the same environment and state dir adopts
     * them. Returns the new host's messages; the harness times it.
     */
    async handOver({ timeoutMs = 120000 } = {}) {
      const old = this.host;
      await this.request("close", { leaveRunning: true }, 60000);
      await waitExit(old.child, 10000);
      const t0 = process.hrtime.bigint();
      this.host = this.spawnHost(this.n, this.command);
      const [ensured, online] = await Promise.all([
        this.expect(this.host, "ensured", timeoutMs),
        this.expect(this.host, "online", timeoutMs),
      ]);
      return { t0, ensured, online };
    }

    /** After adoption the processes are no longer the host's children: /proc alone cannot find them. */
    adoptedGone(timeoutMs) {
      return waitAdoptedGone(sharedDir, this.known, timeoutMs, `${name}: adopted children gone`);
    }

    async teardown() {
      const h = this.host;
      if (h && h.exitCode === null) {
        try {
          h.child.stdin.write(JSON.stringify({ op: "close" }) + "\n");
        } catch {
          /* */
        }
        if (!(await waitExit(h.child, 20000))) {
          try {
            process.kill(-h.pid, "SIGKILL");
          } catch {
            /* */
          }
          await waitExit(h.child, 2000);
        }
      }
      this.host = null;
      this.unmountFavorDynmods?.();
    }

    /**
     * The kernel's "favordynmods" cgroup option, for the run of this driver only:
     * moving a task into a group (the join before exec) then needs no RCU grace
     * period on the global cgroup_threadgroup_rwsem, at some cost to fork and
     * exit. It is global while any hierarchy carries it, so a named,
     * controller-less v1 hierarchy is mounted for the run and unmounted after.
     */
    mountFavorDynmods(workdir) {
      const dir = join(workdir, "favordynmods");
      mkdirSync(dir, { recursive: true });
      execFileSync("mount", ["-t", "cgroup", "-o", `none,name=corral-bench-${process.pid},favordynmods`, "cgroup", dir]);
      let mounted = true;
      const unmount = () => {
        if (!mounted) return;
        mounted = false;
        execFileSync("umount", [dir]);
      };
      const dropHook = addExitHook(unmount);
      this.unmountFavorDynmods = () => {
        this.unmountFavorDynmods = null;
        unmount();
        dropHook?.();
      };
    }

    /** Empty cgroups this run's environment left (after a SIGKILLed host): removed, deepest first. */
    cleanupCgroups() {
      if (launcher !== "cgroup" || !this.environmentId) return [];
      return removeCorralCgroups((name) => name === this.environmentId);
    }
  }

  return new CorralDriver();
}
