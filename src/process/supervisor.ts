// One process slot of a service: launches the process, watches it, relaunches
// it by its restart policy with back-off, gates "online" on its readiness
// probe, and stops it on request. A slot either owns a child it spawned or has
// adopted one left running by an earlier orchestrator instance.
//
// States (each change is one ServiceEvent):
//   offline "starting"  -> spawned, readiness not yet passed (no probe: straight to online)
//   online              -> spawned (no probe) or probe passed
//   offline "probe-failed" after failureThreshold failed probes in a row; online again when it passes
//   offline "crashed" | "exited" | "completed" | "oom-killed" | "spawn-failed" when the process ends
//   offline "backoff" (nextStartAt) while waiting to restart; "completed" stays under on-failure, any exit under never
//   offline "stopped"   -> dropped, scaled away, replaced, or the orchestrator closed
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, rmSync } from "node:fs";
import type { CpuLimit, MemoryLimit } from "../contract/limits.js";
import type { RestartBackoff, RestartPolicy, ServiceEvent } from "../contract/types.js";
import { BackoffSchedule } from "./backoff.js";
import { commandLine, type LaunchSpec, type StopPolicy } from "./command.js";
import { type PidRecord, type ProcessIdentity, isAlive, leadsOwnGroup, removeFile, writePidRecord } from "./identity.js";
import { CGROUP_JOIN_FAILED_EXIT_CODE } from "./launch/cgroup-launcher.js";
import { classifyExit } from "./launch/exit-reason.js";
import type { Launcher, ProcessCgroup } from "./launch/types.js";
import type { ProcessLog } from "./logs.js";
import { assertExecutable } from "./preflight.js";
import { bootId, readProcStat } from "./proc.js";
import { type ReadinessCheck, probeOnce } from "./readiness.js";
import { CRASH_SIGNALS, sendSignal } from "./signals.js";

export interface SupervisorOptions {
  environmentId: string;
  /** `<namespace>-<id>`. */
  fullId: string;
  serviceId: string;
  processIndex: number;
  pidFile: string;
  spec: LaunchSpec;
  specHash: string;
  limits: { memoryLimit?: MemoryLimit; cpuLimit?: CpuLimit };
  stopPolicy: StopPolicy;
  restartPolicy: RestartPolicy;
  backoff: Required<RestartBackoff>;
  readiness?: ReadinessCheck;
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
}

interface Running {
  identity: ProcessIdentity;
  specHash: string;
  child?: ChildProcess;
  cgroup?: ProcessCgroup;
  oomKillsBefore: number;
  startedAt: number;
  /** Resolves once the process is gone and its exit handled. */
  exited: Promise<void>;
  markExited(): void;
  pollTimer?: NodeJS.Timeout;
  probeTimer?: NodeJS.Timeout;
  ready: boolean;
  probeFailures: number;
}

type Phase = "active" | "stopping" | "stopped" | "detached";

export class ProcessSupervisor {
  private running: Running | null = null;
  private restartTimer: { cancel(): void } | null = null;
  private restartCount = 0;
  private phase: Phase = "active";
  private current: ServiceEvent;
  private readonly backoff: BackoffSchedule;
  private readonly listeners = new Set<(event: ServiceEvent) => void>();
  /** The group of the slot, kept across relaunches (prepare() reuses it) and removed when the slot stops for good. */
  private cgroup: ProcessCgroup | undefined;

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = new BackoffSchedule(options.backoff);
    this.current = this.event("offline", { reason: "starting" });
  }

  /** The latest status of this slot (what a watcher's snapshot shows). */
  get status(): ServiceEvent {
    return this.current;
  }

  get pid(): number | undefined {
    return this.running?.identity.pid;
  }

  /** The cgroup of the running process, when the launcher made one. */
  get processCgroup(): ProcessCgroup | undefined {
    return this.running?.cgroup;
  }

  /** Hash of the spec of the process running now (an adopted one may differ from the desired spec). */
  get runningSpecHash(): string | undefined {
    return this.running?.specHash;
  }

  get desiredSpecHash(): string {
    return this.options.specHash;
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
    if (record && isAlive(record)) await this.adopt(record);
    else {
      if (record) removeFile(this.options.pidFile); // stale: its process is gone or the PID now belongs to someone else
      await this.launch();
    }
  }

  /** Resolves with the first event (from now on, or the current state) that matches; rejects after `timeoutMs`. */
  waitFor(predicate: (event: ServiceEvent) => boolean, timeoutMs: number): Promise<ServiceEvent> {
    if (predicate(this.current)) return Promise.resolve(this.current);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms; the process is ${this.current.status}${this.current.reason ? ` (${this.current.reason})` : ""}`,
          ),
        );
      }, timeoutMs);
      const listener = (event: ServiceEvent) => {
        if (!predicate(event)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(event);
      };
      this.listeners.add(listener);
    });
  }

  private async adopt(record: PidRecord): Promise<void> {
    this.restartCount = record.restartCount;
    const cgroup = (await this.options.launcher.reopen(this.launchIdentity())) ?? undefined;
    const running = this.track({ pid: record.pid, startTime: record.startTime, bootId: record.bootId }, record.specHash, {
      cgroup,
      oomKillsBefore: cgroup ? await cgroup.oomKillCount() : 0,
      startedAt: Date.parse(record.launchedAt) || Date.now(),
    });
    this.cgroup = cgroup;
    this.options.log.attach();
    const poll = () => {
      if (this.running !== running) return;
      if (!isAlive(running.identity)) {
        void this.handleExit(running, null, null, "adopted process exited; its exit status is unknown to this instance");
        return;
      }
      running.pollTimer = setTimeout(poll, this.phase === "stopping" ? 10 : this.options.adoptPollMs);
    };
    running.pollTimer = setTimeout(poll, this.options.adoptPollMs);
    this.becameAlive(running);
  }

  private launchIdentity() {
    return { environmentId: this.options.environmentId, fullId: this.options.fullId, processIndex: this.options.processIndex };
  }

  private track(
    identity: ProcessIdentity,
    specHash: string,
    extra: { child?: ChildProcess; cgroup: ProcessCgroup | undefined; oomKillsBefore: number; startedAt: number },
  ): Running {
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const running: Running = {
      identity,
      specHash,
      exited,
      markExited,
      ready: false,
      probeFailures: 0,
      oomKillsBefore: extra.oomKillsBefore,
      startedAt: extra.startedAt,
    };
    if (extra.child) running.child = extra.child;
    if (extra.cgroup) running.cgroup = extra.cgroup;
    this.running = running;
    return running;
  }

  private async launch(): Promise<void> {
    const { spec } = this.options;
    for (const path of this.options.socketPaths) rmSync(path, { force: true });
    const { program, args } = commandLine(spec);
    let prepared;
    try {
      assertExecutable(program);
      prepared = await this.options.launcher.prepare({ ...this.launchIdentity(), program, args, ...this.options.limits });
    } catch (error) {
      this.spawnFailed(error);
      return;
    }
    if (this.phase !== "active") return;
    if (prepared.cgroup) this.cgroup = prepared.cgroup;
    if (prepared.warning) this.options.onWarning?.(prepared.warning);
    let child: ChildProcess;
    const fds = this.options.log.openForChild();
    try {
      child = spawn(prepared.command, prepared.args, {
        // Its own session and process group: stopping the slot signals the whole tree,
        // and the process outlives us when we die, to be adopted by the next instance.
        detached: true,
        stdio: ["ignore", fds.stdout, fds.stderr],
        env: { ...process.env, ...spec.env },
        ...(spec.workingDirectory ? { cwd: spec.workingDirectory } : {}),
      });
    } catch (error) {
      this.spawnFailed(error);
      return;
    } finally {
      closeSync(fds.stdout);
      closeSync(fds.stderr);
    }
    const pid = child.pid;
    if (pid === undefined) {
      child.once("error", (error) => this.spawnFailed(error));
      return;
    }
    // Recorded before we yield to the event loop: the window in which we could
    // die leaving an unrecorded process is as small as Node allows.
    const stat = readProcStat(pid);
    const identity = { pid, startTime: stat?.startTime ?? -1, bootId: bootId() };
    writePidRecord(this.options.pidFile, {
      ...identity,
      specHash: this.options.specHash,
      restartCount: this.restartCount,
      launchedAt: new Date().toISOString(),
    });
    const running = this.track(identity, this.options.specHash, {
      child,
      cgroup: prepared.cgroup,
      oomKillsBefore: prepared.oomKillsBefore,
      startedAt: Date.now(),
    });
    child.on("error", () => {}); // e.g. a kill() racing the exit; the exit event tells the story
    child.once("exit", (code, signal) => void this.handleExit(running, code, signal));
    this.becameAlive(running);
  }

  /** A process exists: online now, or once its readiness probe passes. */
  private becameAlive(running: Running): void {
    const { readiness } = this.options;
    if (!readiness) {
      running.ready = true;
      this.emit("online", { pid: running.identity.pid });
      return;
    }
    this.emit("offline", { reason: "starting", pid: running.identity.pid });
    const tick = async () => {
      if (this.running !== running || this.phase !== "active") return;
      const passed = await probeOnce(readiness);
      if (this.running !== running || this.phase !== "active") return;
      if (passed) {
        running.probeFailures = 0;
        if (!running.ready || this.current.status !== "online") {
          running.ready = true;
          this.emit("online", { pid: running.identity.pid });
        }
      } else if (running.ready && ++running.probeFailures === readiness.failureThreshold) {
        this.emit("offline", {
          reason: "probe-failed",
          pid: running.identity.pid,
          message: `readiness probe failed ${readiness.failureThreshold} times in a row`,
        });
      }
      running.probeTimer = setTimeout(() => void tick(), running.ready ? readiness.periodMs : readiness.startupPeriodMs);
    };
    running.probeTimer = setTimeout(() => void tick(), 0);
  }

  private spawnFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.emit("offline", { reason: "spawn-failed", message });
    this.scheduleRestart(0, "spawn-failed");
  }

  private async handleExit(running: Running, code: number | null, signal: NodeJS.Signals | null, message?: string): Promise<void> {
    if (this.running !== running) return;
    this.running = null;
    clearTimeout(running.pollTimer);
    clearTimeout(running.probeTimer);
    removeFile(this.options.pidFile);
    const oomKillsAfter = running.cgroup ? await running.cgroup.oomKillCount().catch(() => undefined) : undefined;
    // Whatever the process left behind goes with it, as a container's processes
    // go with its init: a relaunch must not find its sockets or files held by stragglers.
    sendSignal(-running.identity.pid, "SIGKILL");
    await running.cgroup?.kill().catch(() => {});
    running.markExited();
    const pid = running.identity.pid;
    if (this.phase !== "active") {
      this.emit("offline", { reason: "stopped", pid, exitCode: code, signal });
      return;
    }
    if (running.cgroup && code === CGROUP_JOIN_FAILED_EXIT_CODE && Date.now() - running.startedAt < 1000) {
      // The launcher's shell could not put the process in its group: it never ran.
      this.emit("offline", { reason: "spawn-failed", pid, exitCode: code, signal, message: "could not join the process's cgroup" });
      this.scheduleRestart(0, "spawn-failed");
      return;
    }
    const exit = classifyExit({
      code,
      signal,
      oomKillsBefore: running.oomKillsBefore,
      ...(oomKillsAfter !== undefined ? { oomKillsAfter } : {}),
    });
    const event = this.emit("offline", {
      reason: exit.reason,
      pid,
      exitCode: exit.exitCode,
      signal: exit.signal,
      ...(message ? { message } : {}),
    });
    if (signal !== null && CRASH_SIGNALS.has(signal) && this.options.onCrash) {
      this.phase = "stopped";
      await this.cgroup?.remove().catch(() => {});
      this.options.log.close();
      this.options.onCrash(event);
      return;
    }
    this.scheduleRestart(Date.now() - running.startedAt, exit.reason);
  }

  private scheduleRestart(ranMs: number, reason: string): void {
    if (this.phase !== "active") return;
    const policy = this.options.restartPolicy;
    if (policy === "never" || (policy === "on-failure" && reason === "completed")) return;
    const delay = this.backoff.next(ranMs);
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
      message: `restart ${this.restartCount + 1} after ${reason}, in ${delay} ms`,
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
      clearTimeout(running.probeTimer);
      const { signal, graceMs } = this.options.stopPolicy;
      this.signalGroup(running, signal);
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)));
      const timedOut = await Promise.race([running.exited.then(() => false), graceOver]);
      clearTimeout(timer);
      if (timedOut) {
        this.signalGroup(running, "SIGKILL");
        await running.cgroup?.kill().catch(() => {});
        await running.exited;
      }
    } else if (this.current.reason !== "stopped") {
      this.emit("offline", { reason: "stopped" });
    }
    await this.cgroup?.remove().catch(() => {});
    this.options.log.close();
    // A hashed socket path lives outside the run directory: nothing else would remove it.
    for (const path of this.options.socketPaths) rmSync(path, { force: true });
    this.phase = "stopped";
  }

  private signalGroup(running: Running, signal: NodeJS.Signals): void {
    const { pid } = running.identity;
    if (running.child) {
      // Our own child leads its group (detached) and is not reaped before its exit event.
      sendSignal(-pid, signal);
    } else if (leadsOwnGroup(running.identity)) {
      sendSignal(-pid, signal);
    } else if (isAlive(running.identity)) {
      sendSignal(pid, signal);
    }
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
    clearTimeout(running.probeTimer);
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
      ...fields,
    };
  }

  private emit(status: ServiceEvent["status"], fields: Partial<ServiceEvent>): ServiceEvent {
    const event = this.event(status, fields);
    this.current = event;
    this.options.onEvent(event);
    for (const listener of [...this.listeners]) listener(event);
    return event;
  }
}
