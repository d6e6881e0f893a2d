// One process slot of a service: launches the process, watches it, relaunches
// it when it exits, and stops it on request. A slot either owns a child it
// spawned or has adopted one left running by an earlier orchestrator instance.
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import type { ServiceEvent } from "../contract/types.js";
import { commandLine, type LaunchSpec, type StopPolicy } from "./command.js";
import { type PidRecord, type ProcessIdentity, isAlive, leadsOwnGroup, removeFile, writePidRecord } from "./identity.js";
import { echoLines } from "./output.js";
import { bootId, readProcStat } from "./proc.js";
import { CRASH_SIGNALS, sendSignal } from "./signals.js";

export interface SupervisorOptions {
  serviceId: string;
  processIndex: number;
  /** `<namespace>-<id>-<i>`: the prefix of echoed output lines. */
  name: string;
  pidFile: string;
  spec: LaunchSpec;
  specHash: string;
  stopPolicy: StopPolicy;
  /** Socket paths of this slot: stale files are removed before each launch so the new process can bind. */
  socketPaths: string[];
  suppressOutput: boolean;
  restartDelayMs: number;
  /** How often an adopted process (not our child: no exit notification) is checked. */
  adoptPollMs: number;
  onEvent(event: ServiceEvent): void;
  /** Called instead of relaunching when the process died of a crash signal and crashes propagate. */
  onCrash?(event: ServiceEvent): void;
}

interface Running {
  identity: ProcessIdentity;
  specHash: string;
  child?: ChildProcess;
  exited: Promise<void>;
  markExited(): void;
  pollTimer?: NodeJS.Timeout;
}

type Phase = "active" | "stopping" | "stopped" | "detached";

export class ProcessSupervisor {
  private running: Running | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private restartCount = 0;
  private phase: Phase = "active";
  private current: ServiceEvent;
  private firstOutcome: ((event: ServiceEvent) => void) | null = null;

  constructor(private readonly options: SupervisorOptions) {
    this.current = this.event("offline", { reason: "starting" });
  }

  /** The latest status of this slot (what a watcher's snapshot shows). */
  get status(): ServiceEvent {
    return this.current;
  }

  get pid(): number | undefined {
    return this.running?.identity.pid;
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
   * really the one we launched, else launches a new one. Resolves with the
   * first outcome: online, or offline when the launch failed.
   */
  start(record: PidRecord | null): Promise<ServiceEvent> {
    const outcome = new Promise<ServiceEvent>((resolve) => (this.firstOutcome = resolve));
    if (record && isAlive(record)) this.adopt(record);
    else {
      if (record) removeFile(this.options.pidFile); // stale: its process is gone or the PID now belongs to someone else
      this.launch();
    }
    return outcome;
  }

  private adopt(record: PidRecord): void {
    this.restartCount = record.restartCount;
    const running = this.track({ pid: record.pid, startTime: record.startTime, bootId: record.bootId }, record.specHash);
    const poll = () => {
      if (this.running !== running) return;
      if (!isAlive(running.identity)) {
        this.handleExit(running, null, null, "adopted process exited; its exit status is unknown to this instance");
        return;
      }
      running.pollTimer = setTimeout(poll, this.phase === "stopping" ? 10 : this.options.adoptPollMs);
    };
    running.pollTimer = setTimeout(poll, this.options.adoptPollMs);
    this.emit("online", { pid: record.pid });
  }

  private track(identity: ProcessIdentity, specHash: string, child?: ChildProcess): Running {
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const running: Running = { identity, specHash, exited, markExited };
    if (child) running.child = child;
    this.running = running;
    return running;
  }

  private launch(): void {
    const { spec, suppressOutput } = this.options;
    for (const path of this.options.socketPaths) rmSync(path, { force: true });
    const { program, args } = commandLine(spec);
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        // Its own session and process group: stopping the slot signals the whole tree,
        // and the process outlives us when we die, to be adopted by the next instance.
        detached: true,
        stdio: suppressOutput ? "ignore" : ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...spec.env },
      });
    } catch (error) {
      this.spawnFailed(error);
      return;
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
    const running = this.track(identity, this.options.specHash, child);
    child.on("error", () => {}); // e.g. a kill() racing the exit; the exit event tells the story
    child.once("exit", (code, signal) => this.handleExit(running, code, signal));
    if (!suppressOutput) {
      echoLines(child.stdout!, process.stdout, this.options.name);
      echoLines(child.stderr!, process.stderr, this.options.name);
    }
    this.emit("online", { pid });
  }

  private spawnFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.emit("offline", { reason: "spawn-failed", message });
    this.scheduleRestart();
  }

  private handleExit(running: Running, code: number | null, signal: NodeJS.Signals | null, message?: string): void {
    if (this.running !== running) return;
    this.running = null;
    if (running.pollTimer) clearTimeout(running.pollTimer);
    removeFile(this.options.pidFile);
    // Whatever the process left in its group goes with it, as a container's
    // processes go with its init: a relaunch must not find its sockets or
    // files held by stragglers.
    sendSignal(-running.identity.pid, "SIGKILL");
    running.markExited();
    const pid = running.identity.pid;
    if (this.phase !== "active") {
      this.emit("offline", { reason: "stopped", pid, exitCode: code, signal });
      return;
    }
    const reason = signal !== null ? "crashed" : code === 0 ? "completed" : "exited";
    const event = this.emit("offline", { reason, pid, exitCode: code, signal, ...(message ? { message } : {}) });
    if (signal !== null && CRASH_SIGNALS.has(signal) && this.options.onCrash) {
      this.phase = "stopped";
      this.options.onCrash(event);
      return;
    }
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.phase !== "active") return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.phase !== "active") return;
      this.restartCount++;
      this.launch();
    }, this.options.restartDelayMs);
  }

  /**
   * Stops the process: the stop signal to its whole process group, then
   * SIGKILL to the group once the grace period is over. Resolves when the
   * process is gone.
   */
  async stop(): Promise<void> {
    if (this.phase === "stopped" || this.phase === "detached") return;
    this.phase = "stopping";
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const running = this.running;
    if (running) {
      const { signal, graceMs } = this.options.stopPolicy;
      this.signalGroup(running, signal);
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)));
      const timedOut = await Promise.race([running.exited.then(() => false), graceOver]);
      clearTimeout(timer);
      if (timedOut) {
        this.signalGroup(running, "SIGKILL");
        await running.exited;
      }
    } else if (this.current.status === "offline" && this.current.reason !== "stopped") {
      this.emit("offline", { reason: "stopped" });
    }
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
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const running = this.running;
    this.running = null;
    if (!running) return;
    if (running.pollTimer) clearTimeout(running.pollTimer);
    const child = running.child;
    if (child) {
      child.removeAllListeners("exit");
      child.stdout?.destroy();
      child.stderr?.destroy();
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
    const outcome = this.firstOutcome;
    if (outcome) {
      this.firstOutcome = null;
      outcome(event);
    }
    return event;
  }
}
