// corral driver for the path users take: the `corral` command and its daemon.
// setup writes a corral.yaml with one service `b` of n processes (restart
// back-off 0) into the workdir; startAll runs `corral up -d` (bin/corral.js on
// dist/) with a state dir of its own inside the workdir, so the daemon
// `up` starts in the background is this run's alone; stopAll is `corral down`.
// The daemon's pid comes from <state dir>/daemon.json; the processes are its
// direct children (the launcher `auto` picks, cgroup on a Linux host without
// systemd: a sh that joins the cgroup and execs the image, same pid), so the
// shared /proc discovery of BaseDriver times start, restarts and stop exactly
// as for raw.
//
// corral's own view comes from the daemon's event stream (GET /v1/events over
// the Unix socket, read as a user's consumer would, each event stamped with
// process.hrtime.bigint() on arrival): all n online, and the offline/online
// events of the kills (watch latency). `corral ps --json` is the pid view
// (listPids), and its first answer showing n online is timed after the events
// say so (polling the command during the start would take a core from the
// daemon being measured on a 2-core machine). fetchServiceMetrics is read as
// the daemon serves it: GET /v1/processes (the rows of `ps`, CPU and memory
// per process), timed over the socket without the command's own start.
//
// Adoption (handOver): SIGKILL the daemon, then `corral up -d` again; timed
// until the new daemon's events show all n online with the very pids that ran
// before, and until `corral ps --json` says the same.
//
// With { launcher } (corral-daemon-direct) the driver starts the daemon itself,
// `corral daemon --launcher <kind>`, and runs `corral up -d` once it answers
// (up starts none then): `up -d` has no launcher option, and the daemon it
// starts takes `auto`, so this is how the daemon's own cost is told apart from
// the launcher's, against the library drivers of the same launcher.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { waitAdoptedGone } from "./adopted.mjs";
import { removeCorralCgroups } from "./cgroups.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = resolve(here, "../..");
const BIN = join(projectRoot, "bin", "corral.js");
const SERVICE = "b";

/** A YAML double-quoted scalar (JSON's string syntax is YAML's) with corral's `$` interpolation escaped. */
function yamlString(s) {
  return JSON.stringify(String(s).replace(/\$/g, "$$$$"));
}

export async function createCorralDaemonDriver(sharedDir, { name = "corral-daemon", launcher = null } = {}) {
  const imp = (p) => import(pathToFileURL(join(sharedDir, p)).href);
  const { BaseDriver } = await imp("drivers/common.mjs");
  const { runCmd, spawnTracked, trackGroup } = await imp("lib/reaper.mjs");
  const { isAlive, pidIdentity, sameProcess } = await imp("lib/proc.mjs");
  const { now, sleep, waitFor, withTimeout } = await imp("lib/timing.mjs");
  // The CLI and the daemon derive the socket from the state dir alone (a long path moves it to /tmp).
  const stateDirModule = join(projectRoot, "dist", "server", "state-dir.js");
  const statePaths = existsSync(stateDirModule) ? (await import(pathToFileURL(stateDirModule).href)).statePaths : null;
  const defaultsModule = join(projectRoot, "dist", "contract", "defaults.js");
  const history = existsSync(defaultsModule) ? (await import(pathToFileURL(defaultsModule).href)).HISTORY_DEFAULTS : null;

  /**
   * The daemon's event stream, stamped on arrival: the latest status and pid of
   * every process of service `b`, the log since the last mark, and waiters for
   * a condition on the latest statuses (checked at every event).
   */
  class EventFeed {
    constructor(socket) {
      this.socket = socket;
      this.latest = new Map(); // processId -> { status, pid }
      this.online = 0;
      this.log = [];
      this.waiters = new Set();
      this.closed = false;
      this.connected = false;
      this.req = null;
      this.error = null;
    }

    /** Connects as soon as the daemon's socket answers (retrying until `deadlineMs`), then reads until closed. */
    start(deadlineMs) {
      const attempt = () => {
        if (this.closed) return;
        const req = httpRequest({ socketPath: this.socket, path: "/v1/events", headers: { accept: "text/event-stream" } });
        this.req = req;
        const retry = (why) => {
          if (this.closed || this.connected) return;
          if (Date.now() > deadlineMs) return this.fail(new Error(`event stream: ${why} until the deadline`));
          setTimeout(attempt, 5);
        };
        req.on("error", (e) => (this.connected ? this.fail(e) : retry(e.code || e.message)));
        req.on("response", (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            return retry(`HTTP ${res.statusCode}`);
          }
          this.connected = true;
          res.setEncoding("utf8");
          let buf = "";
          res.on("data", (chunk) => {
            const t = now();
            buf += chunk;
            let end;
            while ((end = buf.indexOf("\n\n")) >= 0) {
              const block = buf.slice(0, end);
              buf = buf.slice(end + 2);
              this.onBlock(block, t);
            }
          });
          res.on("end", () => this.fail(new Error("event stream ended (daemon gone)")));
          res.on("error", (e) => this.fail(e));
        });
        req.end();
      };
      attempt();
    }

    onBlock(block, t) {
      let type = null;
      let data = null;
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) type = line.slice(7);
        else if (line.startsWith("data: ")) data = line.slice(6);
      }
      if (type !== "service" || data === null) return;
      let e;
      try {
        e = JSON.parse(data);
      } catch {
        return;
      }
      if (e?.serviceId !== SERVICE || typeof e.processId !== "number") return;
      const prev = this.latest.get(e.processId);
      if (prev?.status === "online") this.online--;
      if (e.status === "online") this.online++;
      this.latest.set(e.processId, { status: e.status, pid: e.pid ?? null });
      this.log.push({ s: e.status, r: e.reason ?? null, pid: e.pid ?? null, i: e.processId, t: String(t) });
      for (const w of this.waiters) if (w.check()) w.resolve(t);
    }

    /** Resolves with the arrival time of the event after which `n` processes are online and `pred` holds. */
    whenOnline(n, pred, timeoutMs, label) {
      const p = new Promise((resolve, reject) => {
        const w = {
          check: () => this.online >= n && pred(this.latest),
          resolve: (t) => {
            this.waiters.delete(w);
            resolve(t);
          },
          reject: (e) => {
            this.waiters.delete(w);
            reject(e);
          },
        };
        if (this.error) return reject(this.error);
        if (w.check()) return resolve(now());
        this.waiters.add(w);
      });
      return withTimeout(p, timeoutMs, label);
    }

    fail(e) {
      if (this.error) return;
      this.error = e;
      for (const w of this.waiters) w.reject(e);
    }

    close() {
      this.closed = true;
      this.fail(new Error("event stream closed"));
      this.req?.destroy();
    }
  }

  class CorralDaemonDriver extends BaseDriver {
    constructor() {
      super(name);
      // An idle daemon reads every process's CPU and memory once per idle interval (for the dashboard's
      // charts): a full run's idle window spans one, or the figure would depend on where the window fell.
      this.minIdleSeconds = history ? history.idleSampleIntervalMs / 1000 : 0;
      this.runSeq = 0;
      this.daemon = null;
      this.feed = null;
    }

    async version() {
      try {
        const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8"));
        return `corral ${pkg.version} (bin/corral.js on dist, ${launcher ? `corral daemon --launcher ${launcher}, then ` : ""}corral up -d / ps --json / down), launcher ${launcher ?? "auto"}, node ${process.version}`;
      } catch {
        return null;
      }
    }

    async available() {
      if (!existsSync(join(projectRoot, "dist", "cli", "main.js")) || !statePaths)
        return "dist/cli/main.js or dist/server/state-dir.js missing: run `npm run build`";
      return true;
    }

    async setup(workdir) {
      this.reset();
      this.workdir = workdir;
      this.stateDir = join(workdir, "state");
      this.paths = statePaths(this.stateDir);
      this.file = join(workdir, "corral.yaml");
      // A fresh environment per run: its own cgroups, never another run's.
      this.environment = `bench-d-${process.pid}-${++this.runSeq}-${Date.now() % 1e6}`;
      this.daemon = null;
      this.deadDaemons = new Set();
      this.feed?.close();
      this.feed = null;
      this.startInfoP = null;
      this.dropped = null;
      this.startCmdS = null;
      this.stopCmdS = null;
      this.startFailed = null;
    }

    writeConfig(n, command) {
      const [cmd, ...args] = command.argv;
      // `%` starts a placeholder (%P:, %I, ...) that has no escape: refuse rather than run something else.
      for (const a of command.argv) if (String(a).includes("%")) throw new Error(`corral-daemon: argv "${a}" holds a %, a placeholder`);
      writeFileSync(
        this.file,
        [
          `environment: ${this.environment}`,
          "services:",
          `  ${SERVICE}:`,
          `    command: ${yamlString(cmd)}`,
          `    args: [${args.map(yamlString).join(", ")}]`,
          `    scale: ${n}`,
          "    restartBackoff: { initialMs: 0, maxMs: 0, multiplier: 1, jitter: 0, resetAfterMs: 0 }",
          "",
        ].join("\n"),
      );
    }

    /** One `corral` command against this run's file and state dir; bounded, in its own process group. */
    corral(args, timeoutMs = 60000) {
      return runCmd(process.execPath, [BIN, ...args, "-f", this.file, "--state-dir", this.stateDir], {
        env: cliEnv(),
        cwd: this.workdir,
        timeoutMs,
      });
    }

    /** `corral daemon --launcher <kind>` in the background (output to daemon.log, as up does); resolves once it answers. */
    async spawnDaemon(timeoutMs) {
      mkdirSync(this.stateDir, { recursive: true, mode: 0o711 });
      const log = openSync(this.paths.daemonLog, "a", 0o600);
      const args = [
        BIN,
        "daemon",
        "-f",
        this.file,
        "--state-dir",
        this.stateDir,
        "--environment",
        this.environment,
        "--launcher",
        launcher,
      ];
      const child = spawnTracked(process.execPath, args, { stdio: ["ignore", log, log], cwd: this.workdir, env: cliEnv() });
      closeSync(log);
      let exited = null;
      child.once("exit", (code, signal) => (exited = code ?? signal));
      await waitFor(
        async () => {
          if (exited !== null) throw new Error(`corral daemon exited at start (${exited}); see ${this.paths.daemonLog}`);
          return getJson(this.paths.socket, "/healthz").then(
            () => true,
            () => false,
          );
        },
        { timeoutMs, intervalMs: 5, label: `${name}: corral daemon answering` },
      );
    }

    /** The daemon of daemon.json, once it runs (and is not one this run already saw die). */
    roots() {
      if (this.startFailed) throw this.startFailed;
      const d = this.daemon;
      if (d && sameProcess(d.pid, d.st)) return [d.pid];
      if (d) {
        this.deadDaemons.add(d.pid);
        this.daemon = null;
      }
      let rec;
      try {
        rec = JSON.parse(readFileSync(this.paths.pidFile, "utf8"));
      } catch {
        return [];
      }
      const pid = rec?.pid;
      if (!Number.isInteger(pid) || this.deadDaemons.has(pid)) return [];
      const st = pidIdentity(pid);
      // The record's startTime is /proc's: a recycled pid is not taken for the daemon.
      if (st === null || st !== rec.startTime || !isAlive(pid)) return [];
      this.daemon = { pid, st };
      trackGroup(pid); // it detached itself (own session): the reaper must know it
      return [pid];
    }

    /** Starts the daemon (`corral up -d`, after `corral daemon` with a launcher) and the event feed; the promise of `up -d`'s result. */
    launch(timeoutMs) {
      this.feed?.close();
      this.feed = new EventFeed(this.paths.socket);
      this.feed.start(Date.now() + timeoutMs);
      const daemon = launcher ? this.spawnDaemon(timeoutMs) : Promise.resolve();
      const upArgs = ["up", "-d", "--timeout", String(Math.ceil(timeoutMs / 1000))];
      const up = daemon
        .then(() => this.corral(upArgs, timeoutMs + 10000))
        .then((r) => {
          const t = now();
          if (r.code !== 0) throw new Error(`corral up -d exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).slice(-500)}`);
          return { t, ms: r.ms };
        });
      up.catch(() => {});
      return up;
    }

    /** The first `corral ps --json` that shows n online with `pred` true of their pids: its end and its own latency. */
    async psUntil(n, pred, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await this.ps();
        const t = now();
        const online = r.ok ? r.pids : [];
        if (online.length >= n && pred(online)) return { t, ms: r.ms };
        if (Date.now() > deadline) throw new Error(`corral ps --json: ${online.length}/${n} online at the deadline`);
        await sleep(10);
      }
    }

    async ps() {
      const r = await this.corral(["ps", "--json"], 60000);
      if (r.code !== 0) return { ok: false, ms: r.ms, error: `corral ps --json exited ${r.code ?? r.signal}: ${r.stderr.slice(-300)}` };
      const rows = JSON.parse(r.stdout);
      const pids = rows.filter((x) => x.service === SERVICE && x.status === "online" && x.pid).map((x) => x.pid);
      return { ok: true, ms: r.ms, pids, rows };
    }

    /** How the daemon launched: a child in this environment's cgroup is the cgroup launcher's. */
    launcherOf(pid) {
      try {
        return readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(`/corral/${this.environment}-`) ? "cgroup" : "direct";
      } catch {
        return null;
      }
    }

    async startAll(n, command, { timeoutMs = 120000 } = {}) {
      this.n = n;
      this.command = command;
      this.writeConfig(n, command);
      const up = this.launch(timeoutMs);
      const feed = this.feed;
      const online = feed.whenOnline(n, () => true, timeoutMs, `${name}: ${n} online in the event stream`);
      online.catch(() => {});
      // Resolves (and times start) on n exec'd in /proc, as for every driver; `up -d` still waits
      // out its settle window then. startInfo() waits for it, before anything is killed.
      // A failed `up -d` ends the /proc poll at once (roots() throws it) instead of at the timeout.
      let starting = true;
      up.catch((e) => {
        if (starting) this.startFailed = e;
      });
      let pids;
      try {
        pids = await this.waitForN(n, { timeoutMs });
      } finally {
        starting = false;
        this.startFailed = null;
      }
      this.known = new Set(pids);
      this.startInfoP = (async () => {
        const tOnline = await online;
        const ps = await this.psUntil(n, () => true, timeoutMs);
        const done = await up;
        this.startCmdS = done.ms / 1000;
        return {
          launcher: this.launcherOf(pids[0]),
          source: "bin/corral.js (dist): corral up -d",
          t_all_online: String(tOnline),
          t_ensured: String(done.t),
          daemon: { t_up: String(done.t), t_ps_online: String(ps.t), ps_ms: ps.ms },
        };
      })();
      this.startInfoP.catch(() => {});
      return pids;
    }

    /** Event-stream all-online, `up -d`'s return and the first `ps --json` with n online (hrtime ns as strings). */
    async startInfo() {
      return this.startInfoP;
    }

    async listPids() {
      const r = await this.ps();
      if (!r.ok) throw new Error(r.error);
      return r.pids;
    }

    async markEvents() {
      if (this.feed) this.feed.log = [];
    }
    async events() {
      if (this.feed?.error) throw this.feed.error;
      return this.feed ? this.feed.log : [];
    }

    /** GET /v1/processes over the socket, timed: the daemon's fetchServiceMetrics behind `corral ps` (first call primes the samplers). */
    async metrics(reps) {
      const ms = [];
      let count = 0;
      let nonNull = 0;
      for (let r = 0; r < reps + 1; r++) {
        const t = now();
        const rows = await getJson(this.paths.socket, "/v1/processes");
        const dt = Number(now() - t) / 1e6;
        if (r > 0) ms.push(dt);
        const mine = rows.filter((x) => x.service === SERVICE);
        count = mine.length;
        nonNull = mine.filter((x) => x.memoryBytes != null && x.cpuNanoCores != null).length;
      }
      return { ms, count, nonNull };
    }

    async down(timeoutMs) {
      const r = await this.corral(["down"], timeoutMs);
      const t = now();
      this.stopCmdS = r.ms / 1000;
      if (r.code !== 0) throw new Error(`corral down exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).slice(-300)}`);
      return { t_dropped: String(t) };
    }

    async stopAll({ timeoutMs = 60000 } = {}) {
      const p = this.down(timeoutMs);
      p.catch(() => {});
      await this.waitAllGone({ timeoutMs });
      this.dropped = await p;
    }

    /** The one request the adopt phase makes besides handOver: "drop" (corral down). */
    async request(op, _extra = {}, timeoutMs = 120000) {
      if (op !== "drop") throw new Error(`${name}: no request "${op}"`);
      return this.down(timeoutMs);
    }

    /**
     * Adoption after a crash: SIGKILL the daemon (its processes run on), then
     * `corral up -d` again. Timed from that command until the new daemon's
     * events show all n online with the pids that ran before (t_all_online),
     * until `corral ps --json` says so (t_ps), and until `up -d` returned.
     */
    async handOver({ timeoutMs = 120000 } = {}) {
      const before = new Set(this.known);
      const old = this.daemon;
      if (!old || !sameProcess(old.pid, old.st)) throw new Error(`${name}: no daemon running to kill`);
      process.kill(old.pid, "SIGKILL");
      await waitFor(() => !isAlive(old.pid), { timeoutMs: 10000, intervalMs: 2, label: `${name}: SIGKILLed daemon gone` });
      this.roots(); // notes the dead daemon
      this.feed?.close();
      const t0 = now();
      const up = this.launch(timeoutMs);
      const same = (pids) => pids.every((p) => before.has(p));
      const tOnline = await this.feed.whenOnline(
        before.size,
        (latest) => [...latest.values()].every((e) => e.status !== "online" || before.has(e.pid)),
        timeoutMs,
        `${name}: ${before.size} adopted online in the event stream`,
      );
      const ps = await this.psUntil(before.size, same, timeoutMs);
      const done = await up;
      this.roots();
      return {
        t0,
        ensured: { launcher: this.launcherOf([...before][0]), t_cmd: String(done.t), t_ps: String(ps.t), ps_ms: ps.ms },
        online: { t_all_online: String(tOnline) },
      };
    }

    /** After adoption the processes are no longer the daemon's children: /proc alone cannot find them. */
    adoptedGone(timeoutMs) {
      return waitAdoptedGone(sharedDir, this.known, timeoutMs, `${name}: adopted children gone`);
    }

    /** Stops the daemon this run started, if it still runs: `corral down`, else SIGKILL of its recorded pid. */
    async teardown() {
      this.feed?.close();
      this.feed = null;
      const [pid] = this.roots();
      if (pid === undefined) return;
      const d = this.daemon;
      const r = await this.corral(["down"], 30000).catch(() => null);
      const gone = () => !sameProcess(d.pid, d.st) || !isAlive(d.pid);
      try {
        await waitFor(gone, { timeoutMs: r?.code === 0 ? 10000 : 1000, intervalMs: 20, label: `${name}: daemon exit` });
      } catch {
        if (sameProcess(d.pid, d.st)) process.kill(d.pid, "SIGKILL");
        await sleep(200);
      }
      this.daemon = null;
    }

    /** Empty cgroups of this run's environment (after a SIGKILLed daemon): removed, deepest first. */
    cleanupCgroups() {
      if (!this.environment) return [];
      return removeCorralCgroups((name) => name.startsWith(`${this.environment}-`));
    }
  }

  return new CorralDaemonDriver();
}

/** The environment of every `corral` command: this run's file and state dir only, never the caller's daemon. */
function cliEnv() {
  const env = { ...process.env, NO_COLOR: "1" };
  delete env.CORRAL_STATE_DIR;
  delete env.CORRAL_HOST;
  delete env.CORRAL_TOKEN;
  return env;
}

/** GET a JSON body over a Unix socket. */
function getJson(socketPath, path) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode !== 200) return reject(new Error(`GET ${path}: HTTP ${res.statusCode}: ${body.slice(0, 300)}`));
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(new Error(`GET ${path}: ${e.message}`));
        }
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}
