// One process slot of a service: launches the process, watches it, relaunches
// it by its restart policy with back-off, gates "online" on its readiness
// probe, and stops it on request. A slot either owns a child it spawned or has
// adopted one left running by an earlier orchestrator instance.
//
// States (each change is one ServiceEvent):
//   offline "starting"  -> spawned, readiness not yet passed (no probe: straight to online)
//   online              -> spawned (no probe) or probe passed
//   offline "probe-failed" after failureThreshold failed probes in a row; online again when it passes
//   offline "liveness-failed" | "startup-timeout": the liveness probe failed failureThreshold times in a
//           row, or the startup probe did not pass in time; the process is stopped and restarted by its policy
//   offline "crash-loop" (final) when the restart limit's breaker trips: no restart until the slot is replaced
//   offline "crashed" | "exited" | "completed" | "oom-killed" | "spawn-failed" when the process ends;
//           with `final` when the restart policy will not start it again ("completed" under on-failure, any end under never)
//   offline "backoff" (nextStartAt) while waiting to restart
//   offline "stopped"   -> dropped, scaled away, replaced, or the orchestrator closed
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, rmSync } from "node:fs";
import type { CpuLimit, MemoryLimit } from "../contract/limits.js";
import type { ProbeResults } from "../contract/health.js";
import type { OfflineReason, RestartBackoff, RestartPolicy, ServiceEvent } from "../contract/types.js";
import type { NormalizedRestartLimit } from "../contract/validation.js";
import { survive } from "../util/diagnostics.js";
import { assertExecutable } from "../util/executable.js";
import { BackoffSchedule } from "./backoff.js";
import { CrashLoopBreaker, isCrashLooping } from "./crash-loop.js";
import { type HealthChecks, watchHealth } from "./health.js";
import { type PidRecord, type ProcessIdentity, isAlive, clearRecord, writePidRecord } from "./identity.js";
import { unlinkIfPresent } from "../util/unlink.js";
import { intendedProcesses, writeLaunchIntent } from "./launch-intent.js";
import { CGROUP_JOIN_FAILED_EXIT_CODE } from "./launch/cgroup-launcher.js";
import { classifyExit } from "./launch/exit-reason.js";
import type { Launcher, ProcessCgroup } from "./launch/types.js";
import { type LaunchSpec, type SpecStamp, commandLine } from "./launch-spec.js";
import type { ProcessLog } from "./logs.js";
import { bootId, readProcStat } from "./proc.js";
import { ProcessStatus } from "./process-status.js";
import { prepareSocketDirectories } from "./service-dirs.js";
import type { SecretDelivery } from "./secret-delivery.js";
import { CRASH_SIGNALS } from "./signals.js";
import { type StopPolicy, killStragglers, signalProcess, stopProcess } from "./stop-process.js";
import type { HookResult } from "../contract/types.js";
import type { NormalizedHook } from "../contract/validation.js";
import { findServer } from "./forking.js";
import { type SlotLifecycle, describeHook, runHook } from "./hooks.js";

/**
 * How long an exit waits for the process's pipes to reach end-of-file (its last
 * lines recorded); only a process that handed its output to something outside
 * its group, which the exit does not kill, makes it wait this long.
 */
const EXIT_LOG_DRAIN_MS = 500;

export interface SupervisorOptions {
  /** Names the process's cgroup: the orchestrator's hostScope (unique per state dir), not the bare environment id. */
  environmentId: string;
  /** `<namespace>-<id>`. */
  fullId: string;
  serviceId: string;
  processIndex: number;
  /** The slot's record: the PID record of its process, or the intent of a launch under way (launch-intent.ts). */
  pidFile: string;
  spec: LaunchSpec;
  /** The spec's hash and the scale it was built for, recorded in the PID file. */
  stamp: SpecStamp;
  limits: { memoryLimit?: MemoryLimit; cpuLimit?: CpuLimit };
  stopPolicy: StopPolicy;
  restartPolicy: RestartPolicy;
  backoff: Required<RestartBackoff>;
  /** Startup, readiness and liveness probes. */
  health?: HealthChecks;
  /** The crash-loop breaker; without it the slot restarts for ever. */
  restartLimit?: NormalizedRestartLimit;
  /** The service's secrets: delivered before each launch (their stamp replaces `stamp`), removed once the process is gone. */
  secrets?: SecretDelivery;
  launcher: Launcher;
  log: ProcessLog;
  /** Socket paths of this slot: stale files are removed before each launch so the new process can bind. */
  socketPaths: string[];
  /** How often an adopted process (not our child: no exit notification) is checked. */
  adoptPollMs: number;
  onEvent(event: ServiceEvent): void;
  /** Something the user must hear about once, e.g. limits the launcher cannot enforce. */
  onWarning?(warning: string): void;
  /** Called instead of relaunching when the process died of a crash signal and crashes propagate. */
  onCrash?(event: ServiceEvent): void;
  /** Hooks, stop command, forking (hooks.ts, forking.ts). */
  lifecycle?: SlotLifecycle;
}

interface Running {
  identity: ProcessIdentity;
  stamp: SpecStamp;
  child?: ChildProcess;
  cgroup?: ProcessCgroup;
  oomKillsBefore: number;
  startedAt: number;
  /** Resolves once the process is gone and its exit handled. */
  exited: Promise<void>;
  markExited(): void;
  pollTimer?: NodeJS.Timeout;
  readiness?: { stop(): void };
  /** Why corral is stopping it while the slot stays active (a failed liveness or startup probe): the reason of its exit. */
  killedFor?: { reason: string; message: string };
  /** Why corral ended it (a failed postStart hook): the exit event says so. */
  failure?: string;
}

type Phase = "active" | "stopping" | "stopped" | "detached";

/** The reasons a process ended by itself (not asked to stop), shown beside a later status. */
const END_REASONS = new Set<OfflineReason>(["oom-killed", "crashed", "exited", "completed", "probe-failed", "spawn-failed"]);

export class ProcessSupervisor {
  private running: Running | null = null;
  private restartTimer: { cancel(): void } | null = null;
  private restartCount = 0;
  private phase: Phase = "active";
  private readonly current: ProcessStatus;
  #lastEnd: OfflineReason | undefined;
  private readonly backoff: BackoffSchedule;
  private readonly breaker: CrashLoopBreaker;
  /** The probes' latest results for the process running now (kept on its exit event), carried by every event. */
  private probes: ProbeResults | undefined;
  /** The group of the slot, kept across relaunches (prepare() reuses it) and removed when the slot stops for good. */
  private cgroup: ProcessCgroup | undefined;
  /** The secrets' variables of the last launch: hooks get the process's environment. */
  private secretEnv: Record<string, string> = {};

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = new BackoffSchedule(options.backoff);
    this.breaker = new CrashLoopBreaker(options.restartLimit);
    this.current = new ProcessStatus(this.event("offline", { reason: "starting" }));
  }

  /** The latest status of this slot (what a watcher's snapshot shows). */
  get status(): ServiceEvent {
    return this.current.current;
  }

  get pid(): number | undefined {
    return this.running?.identity.pid;
  }

  /** In its stop grace period: told to stop, its process not gone yet. */
  get stopping(): boolean {
    return this.phase === "stopping" && this.running !== null;
  }

  /** Why the slot's process last ended (oom-killed, crashed, exited, ...), kept once a new one runs. */
  get lastEnd(): OfflineReason | undefined {
    return this.#lastEnd;
  }

  /** The cgroup of the running process, when the launcher made one. */
  get processCgroup(): ProcessCgroup | undefined {
    return this.running?.cgroup;
  }

  /** Port name → the socket this slot's process listens on. */
  get listenAddrs(): Readonly<Record<string, string>> {
    return this.options.spec.listenAddrs;
  }

  /** Which config the process running now was launched with (an adopted one may differ from the desired spec); else the desired one. */
  get stamp(): SpecStamp {
    return this.running?.stamp ?? this.options.stamp;
  }

  set stopPolicy(policy: StopPolicy) {
    this.options.stopPolicy = policy;
  }

  /**
   * Starts the slot: adopts the process named by `record` when it is alive and
   * really the one we launched, else launches a new one. Resolves once the
   * first attempt is over: a process exists (spawned or adopted) or spawning failed.
   */
  async start(record: PidRecord | null): Promise<void> {
    if (record && isAlive(record)) {
      await this.adopt(record);
    } else {
      if (record) clearRecord(this.options.pidFile); // stale: its process is gone or the PID now belongs to someone else
      await this.stopUnrecorded();
      await this.launch();
    }
  }

  /**
   * A launch whose host died between the spawn and the PID record left its
   * intent: the process it started, if any, is found by its environment and
   * stopped before a new one starts, so the slot never runs twice.
   */
  private async stopUnrecorded(): Promise<void> {
    const env = this.options.spec.env;
    const marks = Object.fromEntries(
      ["CORRAL_ENVIRONMENT_ID", "CORRAL_NAMESPACE", "CORRAL_SERVICE_ID", "CORRAL_PROCESS_INDEX"].flatMap((name) =>
        env[name] === undefined ? [] : [[name, env[name]]],
      ),
    );
    const orphans = Object.keys(marks).length === 4 ? intendedProcesses(this.options.pidFile, marks) : [];
    // The intent stays until this slot's launch writes its own over it: nothing it names runs any more.
    await Promise.all(orphans.map((identity) => stopProcess({ identity }, this.options.stopPolicy)));
  }

  /** The first status (now or later) that matches; undefined when none did within `timeoutMs`. */
  waitFor(predicate: (event: ServiceEvent) => boolean, timeoutMs: number): Promise<ServiceEvent | undefined> {
    return this.current.waitFor(predicate, timeoutMs);
  }

  private async adopt(record: PidRecord): Promise<void> {
    this.restartCount = record.restartCount;
    const cgroup = (await this.options.launcher.reopen(this.launchIdentity())) ?? undefined;
    const stamp = { specHash: record.specHash, scale: record.scale };
    const running = this.track({ pid: record.pid, startTime: record.startTime, bootId: record.bootId }, stamp, {
      cgroup,
      oomKillsBefore: cgroup ? await cgroup.oomKillCount() : 0,
      startedAt: Date.parse(record.launchedAt) || Date.now(),
    });
    this.cgroup = cgroup;
    this.options.log.attach();
    this.pollUntilGone(running, "adopted process exited; its exit status is unknown to this instance");
    this.becameAlive(running);
  }

  /** A process that is not our child gives no exit notification: it is checked every adoptPollMs. */
  private pollUntilGone(running: Running, message: string): void {
    const poll = () => {
      if (this.running !== running) return;
      if (!isAlive(running.identity)) {
        void this.handleExit(running, null, null, message);
        return;
      }
      running.pollTimer = setTimeout(poll, this.phase === "stopping" ? 10 : this.options.adoptPollMs);
    };
    running.pollTimer = setTimeout(poll, this.options.adoptPollMs);
  }

  private launchIdentity() {
    return { environmentId: this.options.environmentId, fullId: this.options.fullId, processIndex: this.options.processIndex };
  }

  private track(
    identity: ProcessIdentity,
    stamp: SpecStamp,
    extra: Pick<Running, "child" | "cgroup" | "oomKillsBefore" | "startedAt">,
  ): Running {
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const running: Running = { identity, stamp, exited, markExited, ...extra };
    this.running = running;
    return running;
  }

  /** One launch attempt; whatever fails in it (a full disk, no descriptors left) is this attempt's spawn-failed, never the host's. */
  private async launch(): Promise<void> {
    try {
      await this.launchOnce();
    } catch (error) {
      this.spawnFailed(error);
    }
  }

  private async launchOnce(): Promise<void> {
    const { spec } = this.options;
    const { program, args } = commandLine(spec);
    let prepared;
    let secrets;
    try {
      prepareSocketDirectories(spec);
      for (const path of this.options.socketPaths) rmSync(path, { force: true });
      assertExecutable(program);
      secrets = await this.options.secrets?.deliver();
      const user = spec.user ? { user: spec.user } : {};
      prepared = await this.options.launcher.prepare({ ...this.launchIdentity(), program, args, ...this.options.limits, ...user });
    } catch (error) {
      this.spawnFailed(error);
      return;
    }
    if (this.phase !== "active") {
      // Stopped while preparing: stop() may have removed the files before they were written.
      await this.options.secrets?.remove().catch((error: unknown) => this.report("remove secret files", error));
      return;
    }
    if (prepared.cgroup) this.cgroup = prepared.cgroup;
    if (prepared.warning) this.options.onWarning?.(prepared.warning);
    this.secretEnv = secrets?.env ?? {};
    if (this.options.lifecycle?.pidFile !== undefined) rmSync(this.options.lifecycle.pidFile, { force: true }); // a stale one must not name the server
    if (!(await this.preStart(prepared.cgroup))) return;
    let child: ChildProcess;
    // No record, no spawn: the intent is what a successor finds if we die before the PID record is written over it.
    try {
      writeLaunchIntent(this.options.pidFile);
    } catch (error) {
      throw new Error(`the PID file could not be written, nothing was launched: ${error instanceof Error ? error.message : String(error)}`);
    }
    let fds: { stdout: number; stderr: number };
    try {
      fds = this.options.log.openForChild();
    } catch (error) {
      clearRecord(this.options.pidFile);
      throw error;
    }
    try {
      // The pipes belong to whoever the process runs as, and to no earlier user of the slot.
      this.options.log.shareWith(spec.user ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
      child = spawn(prepared.command, prepared.args, {
        // Its own session and process group: stopping the slot signals the whole tree,
        // and the process outlives us when we die, to be adopted by the next instance.
        detached: true,
        stdio: ["ignore", fds.stdout, fds.stderr],
        env: { ...process.env, ...spec.env, ...secrets?.env },
        ...(spec.workingDirectory ? { cwd: spec.workingDirectory } : {}),
      });
    } catch (error) {
      clearRecord(this.options.pidFile);
      this.spawnFailed(error);
      return;
    } finally {
      closeSync(fds.stdout);
      closeSync(fds.stderr);
    }
    const pid = child.pid;
    if (pid === undefined) {
      clearRecord(this.options.pidFile);
      child.once("error", (error) => this.spawnFailed(error));
      return;
    }
    // Recorded before we yield to the event loop: the window in which we could
    // die leaving an unrecorded process is as small as Node allows (and the intent covers it).
    const stamp = secrets?.stamp ?? this.options.stamp;
    let identity: ProcessIdentity;
    try {
      const stat = readProcStat(pid);
      if (!stat) throw new Error(`cannot read /proc/${pid}/stat of the process just spawned`);
      identity = { pid, startTime: stat.startTime, bootId: bootId() };
      writePidRecord(this.options.pidFile, {
        ...identity,
        ...stamp,
        restartCount: this.restartCount,
        launchedAt: new Date().toISOString(),
      });
    } catch (error) {
      // A process no record names would run untracked: it goes at once, and this launch failed.
      child.removeAllListeners("exit");
      child.on("error", () => {});
      killStragglers({ pid, startTime: -1, bootId: bootId() });
      await prepared.cgroup?.kill().catch((e: unknown) => this.report("kill cgroup", e));
      clearRecord(this.options.pidFile);
      throw new Error(
        `the PID file could not be written, the process was killed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const running = this.track(identity, stamp, {
      child,
      cgroup: prepared.cgroup,
      oomKillsBefore: prepared.oomKillsBefore,
      startedAt: Date.now(),
    });
    child.on("error", () => {}); // e.g. a kill() racing the exit; the exit event tells the story
    if (this.options.lifecycle?.forking) {
      child.once("exit", (code, signal) => void this.launcherExited(running, code, signal));
      this.emit("offline", { reason: "starting", pid, message: "forking: waiting for the program to leave its server" });
      return;
    }
    child.once("exit", (code, signal) => void this.handleExit(running, code, signal));
    void this.postStart(running);
  }

  /** A process exists: online now, or once its startup and readiness probes pass. */
  private becameAlive(running: Running): void {
    const { health } = this.options;
    const pid = running.identity.pid;
    this.probes = undefined;
    if (!health) {
      this.emit("online", { pid });
      return;
    }
    if (health.readiness || health.startup) this.emit("offline", { reason: "starting", pid });
    // A spawned process's lines all come after this; an adopted one's may be in the log already.
    const since = running.child ? undefined : new Date(running.startedAt);
    running.readiness = watchHealth(health, {
      active: () => this.running === running && this.phase === "active",
      followLines: (listener) => this.options.log.followSince(since, listener),
      onReady: () => this.emit("online", { pid }),
      onStarting: (message) => this.emit("offline", { reason: "starting", pid, message }),
      onFailing: (message) => this.emit("offline", { reason: "probe-failed", pid, message }),
      onStartupTimeout: (message, results) => this.killFor(running, "startup-timeout", message, results),
      onLivenessFailed: (message, results) => this.killFor(running, "liveness-failed", message, results),
      onProbes: (results, changed) => {
        this.probes = results;
        if (!changed) return;
        const { serviceId: _s, processId: _p, status, time: _t, restartCount: _r, probes: _old, ...rest } = this.status;
        this.emit(status, rest);
      },
    });
  }

  /** Stops a process that failed its liveness or startup probe; its exit is reported with `reason` and restarted by the policy. */
  private killFor(running: Running, reason: string, message: string, results: ProbeResults): void {
    if (this.running !== running || running.killedFor) return;
    running.killedFor = { reason, message };
    this.probes = results;
    this.emit("offline", { reason, pid: running.identity.pid, message });
    void stopProcess(running, this.options.stopPolicy).catch((error: unknown) => this.report(`stop after ${reason}`, error));
  }

  private spawnFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.emit("offline", { reason: "spawn-failed", message, ...this.finality("spawn-failed") });
    this.scheduleRestart(0, "spawn-failed", undefined, message);
  }

  private async handleExit(running: Running, code: number | null, signal: NodeJS.Signals | null, message?: string): Promise<void> {
    if (this.running !== running) return;
    this.running = null;
    clearTimeout(running.pollTimer);
    running.readiness?.stop();
    clearRecord(this.options.pidFile);
    // Only an exit the restart policy judges needs the count: a stopped slot never becomes active again.
    const oomKillsAfter =
      running.cgroup && this.phase === "active"
        ? await running.cgroup.oomKillCount().catch((error: unknown) => {
            // Without the count an OOM kill reads as a plain SIGKILL ("crashed"); the exit is still handled.
            this.report("read OOM kills", error);
            return undefined;
          })
        : undefined;
    killStragglers(running.identity);
    await running.cgroup?.kill().catch((error: unknown) => this.report("kill cgroup", error));
    await this.options.secrets?.remove().catch((error: unknown) => this.report("remove secret files", error));
    // The exit event comes after the process's last lines are in its log: whoever
    // reads the log because of the event (up showing why a job failed) finds them.
    await this.options.log.drained(EXIT_LOG_DRAIN_MS);
    await this.postStop(running);
    running.markExited();
    const pid = running.identity.pid;
    if (this.phase !== "active") {
      this.emit("offline", { reason: "stopped", pid, exitCode: code, signal });
      return;
    }
    if (running.cgroup && code === CGROUP_JOIN_FAILED_EXIT_CODE && Date.now() - running.startedAt < 1000) {
      // The launcher's shell could not put the process in its group: it never ran.
      this.emit("offline", {
        reason: "spawn-failed",
        pid,
        exitCode: code,
        signal,
        message: "could not join the process's cgroup",
        ...this.finality("spawn-failed"),
      });
      this.scheduleRestart(0, "spawn-failed");
      return;
    }
    const exit = classifyExit({
      code,
      signal,
      oomKillsBefore: running.oomKillsBefore,
      ...(oomKillsAfter !== undefined ? { oomKillsAfter } : {}),
    });
    // A process corral stopped for a failed probe ended for that reason, whatever signal ended it.
    const reason = running.killedFor?.reason ?? exit.reason;
    const why = running.killedFor?.message ?? message ?? running.failure;
    const event = this.emit("offline", {
      reason,
      pid,
      exitCode: exit.exitCode,
      signal: exit.signal,
      ...(why ? { message: why } : {}),
      ...this.finality(reason),
    });
    if (signal !== null && CRASH_SIGNALS.has(signal) && this.options.onCrash) {
      this.phase = "stopped";
      await this.cgroup?.remove().catch((error: unknown) => this.report("remove cgroup", error));
      this.options.log.close();
      this.options.onCrash(event);
      return;
    }
    this.scheduleRestart(Date.now() - running.startedAt, reason, event);
  }

  /** Whether the restart policy starts the process again after it ended for `reason`. */
  private restartsAfter(reason: string): boolean {
    const policy = this.options.restartPolicy;
    return !(policy === "never" || (policy === "on-failure" && reason === "completed"));
  }

  /** `{ final: true }` for the event of an end that no restart will follow. */
  private finality(reason: string): { final?: true } {
    return this.restartsAfter(reason) ? {} : { final: true };
  }

  /**
   * `ended`: the exit that made the restart necessary (the crash-loop breaker names it);
   * `why`: what made a start fail, kept in the backoff event so `ps` still says it (e.g. which secret is not set).
   */
  private scheduleRestart(ranMs: number, reason: string, ended?: ServiceEvent, why?: string): void {
    if (this.phase !== "active") return;
    if (!this.restartsAfter(reason)) return;
    const tripped = reason === "completed" ? undefined : this.breaker.failed();
    if (tripped !== undefined) {
      this.emit("offline", {
        reason: "crash-loop",
        message: `${tripped}; last: ${ended ? describeExit(ended) : reason}`,
        ...(ended?.exitCode !== undefined ? { exitCode: ended.exitCode } : {}),
        ...(ended?.signal !== undefined ? { signal: ended.signal } : {}),
        final: true,
      });
      return;
    }
    const delay = this.backoff.next(ranMs);
    const crashLooping = reason !== "completed" && isCrashLooping(this.backoff.consecutiveFailures);
    const relaunch = () => {
      this.restartTimer = null;
      if (this.phase !== "active") return;
      this.restartCount++;
      void this.launch();
    };
    if (delay === 0) {
      // setImmediate: a timer, even of 0 ms, costs a millisecond of every restart.
      const immediate = setImmediate(relaunch);
      this.restartTimer = { cancel: () => clearImmediate(immediate) };
      return;
    }
    this.emit("offline", {
      reason: "backoff",
      nextStartAt: new Date(Date.now() + delay),
      message: `${crashLooping ? `crash-looping (${this.backoff.consecutiveFailures} quick failures in a row): ` : ""}restart ${this.restartCount + 1} after ${reason}${why ? ` (${why})` : ""}, in ${delay} ms`,
      ...(crashLooping ? { crashLooping: true as const } : {}),
    });
    const timer = setTimeout(relaunch, delay);
    this.restartTimer = { cancel: () => clearTimeout(timer) };
  }

  /**
   * Stops the slot for good: the stop signal to the process group, SIGKILL to
   * the group (and its cgroup) once the grace period is over. Resolves when
   * the process is gone and its group removed.
   */
  async stop(): Promise<void> {
    if (this.phase === "stopped" || this.phase === "detached") return;
    this.phase = "stopping";
    this.restartTimer?.cancel();
    this.restartTimer = null;
    const running = this.running;
    if (running) {
      running.readiness?.stop();
      if (!(await this.beforeStop(running))) await stopProcess(running, this.options.stopPolicy);
    } else if (this.status.reason !== "stopped") {
      this.emit("offline", { reason: "stopped" });
    }
    await this.cgroup?.remove().catch((error: unknown) => this.report("remove cgroup", error));
    await this.options.secrets?.remove().catch((error: unknown) => this.report("remove secret files", error));
    this.options.log.close();
    // A hashed socket path lives outside the run directory: nothing else would remove it.
    for (const path of this.options.socketPaths) rmSync(path, { force: true });
    for (const dir of Object.values(this.options.spec.socketDirs ?? {})) rmSync(dir, { recursive: true, force: true });
    // Stopped for good: the slot's record goes (a restart only blanks it, to write over it again).
    await unlinkIfPresent(this.options.pidFile).catch((error: unknown) => this.report("remove record file", error));
    this.phase = "stopped";
  }

  // Lifecycle hooks and forking servers (hooks.ts, forking.ts).

  /** Runs preStart; false (the start failed, the restart policy takes over) when it failed or the slot stopped meanwhile. */
  private async preStart(cgroup: ProcessCgroup | undefined): Promise<boolean> {
    const hook = this.options.lifecycle?.hooks.preStart;
    if (!hook) return true;
    const result = await this.hook("preStart", hook, cgroup);
    if (this.phase !== "active") return false;
    if (result.ok) return true;
    this.emit("offline", { reason: "spawn-failed", message: describeHook(result), ...this.finality("spawn-failed") });
    this.scheduleRestart(0, "spawn-failed");
    return false;
  }

  /** The process runs: postStart first (online waits for it; a failure kills the process, as on Kubernetes), then readiness. */
  private async postStart(running: Running): Promise<void> {
    const hook = this.options.lifecycle?.hooks.postStart;
    if (!hook) return this.becameAlive(running);
    this.emit("offline", { reason: "starting", pid: running.identity.pid, message: "running the postStart hook" });
    const result = await this.hook("postStart", hook, running.cgroup, running.identity.pid);
    if (this.running !== running || this.phase !== "active") return;
    if (result.ok) return this.becameAlive(running);
    running.failure = describeHook(result);
    signalProcess(running, "SIGKILL");
    await running.cgroup?.kill().catch((error: unknown) => this.report("kill cgroup", error));
  }

  /** preStop, then the stop command; true when the process is gone already (the stop signal is not needed). */
  private async beforeStop(running: Running): Promise<boolean> {
    const lifecycle = this.options.lifecycle;
    if (lifecycle?.hooks.preStop) await this.hook("preStop", lifecycle.hooks.preStop, running.cgroup, running.identity.pid);
    if (!lifecycle?.stop) return false;
    const { graceMs } = this.options.stopPolicy;
    await this.hook("stop", { command: lifecycle.stop.command, timeoutMs: Math.max(1, graceMs) }, running.cgroup, running.identity.pid);
    let timer: NodeJS.Timeout | undefined;
    const gone = await Promise.race([
      running.exited.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    return gone;
  }

  private async postStop(running: Running): Promise<void> {
    const hook = this.options.lifecycle?.hooks.postStop;
    if (hook) await this.hook("postStop", hook, running.cgroup, running.identity.pid);
  }

  /** Runs one hook as the process runs (env, cwd, user, cgroup, log) and publishes its result with the current status. */
  private async hook(name: HookResult["name"], hook: NormalizedHook, cgroup: ProcessCgroup | undefined, pid?: number): Promise<HookResult> {
    const { spec, log } = this.options;
    const { error, ...result } = await runHook({
      name,
      command: hook.command,
      timeoutMs: hook.timeoutMs,
      env: { ...process.env, ...spec.env, ...this.secretEnv, ...(pid !== undefined ? { CORRAL_PID: String(pid) } : {}) },
      ...(spec.workingDirectory ? { cwd: spec.workingDirectory } : {}),
      ...(spec.user ? { user: spec.user } : {}),
      ...(cgroup ? { cgroup } : {}),
      log,
    });
    // The status fields say where the process is; the end of an earlier run (exit code, final) is not repeated.
    const { serviceId, processId, status, reason, restartCount, pid: current } = this.status;
    this.options.onEvent({
      serviceId,
      processId,
      status,
      ...(reason !== undefined ? { reason } : {}),
      restartCount,
      ...(current !== undefined ? { pid: current } : {}),
      time: new Date(),
      hook: result,
      message: describeHook({ ...result, ...(error ? { error } : {}) }),
    });
    return result;
  }

  /** forking: the launched program ended; a clean exit leaves the server to supervise from now on. */
  private async launcherExited(running: Running, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const lifecycle = this.options.lifecycle;
    if (this.running !== running || !lifecycle) return;
    if (code !== 0 || this.phase !== "active") return this.handleExit(running, code, signal);
    const found = await findServer({
      ...(lifecycle.pidFile !== undefined ? { pidFile: lifecycle.pidFile } : {}),
      ...(running.cgroup ? { cgroup: running.cgroup } : {}),
      launchedPid: running.identity.pid,
      notBefore: running.identity.startTime,
      timeoutMs: lifecycle.forkTimeoutMs,
      wanted: () => this.running === running && this.phase === "active",
    });
    if (this.running !== running) return;
    if ("problem" in found) return this.handleExit(running, code, signal, found.problem);
    // From here on the server is the process: recorded (a later instance adopts it), polled, stopped, killed on drop.
    running.identity = found.server;
    delete running.child;
    writePidRecord(this.options.pidFile, {
      ...found.server,
      ...running.stamp,
      restartCount: this.restartCount,
      launchedAt: new Date(running.startedAt).toISOString(),
    });
    this.pollUntilGone(running, "the forking server exited; its exit status is unknown (it is not corral's child)");
    // Stopped while it was looked for: the stop signal went to the launched program's group, which a server may have left.
    if (this.isStopping()) signalProcess(running, this.options.stopPolicy.signal);
    else void this.postStart(running);
  }

  private isStopping(): boolean {
    return this.phase === "stopping";
  }

  /** A failure the slot survives (its cgroup would not go, ...), published on the diagnostics channel. */
  private report(operation: string, error: unknown): void {
    const { fullId, processIndex } = this.options;
    survive("process.supervisor", operation, { fullId, processIndex, ...(this.cgroup ? { cgroup: this.cgroup.name } : {}) })(error);
  }

  /** Stops supervising and leaves the process running, for a later instance to adopt. */
  detach(): void {
    if (this.phase === "stopped" || this.phase === "detached") return;
    this.phase = "detached";
    this.restartTimer?.cancel();
    this.restartTimer = null;
    this.options.log.close();
    const running = this.running;
    this.running = null;
    if (!running) return;
    clearTimeout(running.pollTimer);
    running.readiness?.stop();
    const child = running.child;
    if (child) {
      child.removeAllListeners("exit");
      child.unref();
    }
  }

  private event(status: ServiceEvent["status"], fields: Partial<ServiceEvent>): ServiceEvent {
    return {
      serviceId: this.options.serviceId,
      processId: this.options.processIndex,
      status,
      time: new Date(),
      restartCount: this.restartCount,
      ...(this.probes ? { probes: this.probes } : {}),
      ...fields,
    };
  }

  private emit(status: ServiceEvent["status"], fields: Partial<ServiceEvent>): ServiceEvent {
    const event = this.event(status, fields);
    if (event.status === "offline" && event.reason !== undefined && END_REASONS.has(event.reason)) this.#lastEnd = event.reason;
    this.current.set(event);
    this.options.onEvent(event);
    return event;
  }
}

function describeExit(event: ServiceEvent): string {
  if (event.reason === "exited") return `exited with status ${event.exitCode ?? "?"}`;
  if (event.reason === "crashed") return `killed by ${event.signal ?? "a signal"}`;
  return event.reason ?? "ended";
}
