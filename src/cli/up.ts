// `corral up`: apply the file as a diff and show progress until every
// long-running process is online (and stayed so for the settle window) and
// every job has completed; then, in the foreground, keep showing every
// process's output, exits and restarts until Ctrl-C, which stops the
// services gracefully (and pre-empts an apply still in progress).
//
// A job that fails, and for `up -d` a crash loop, fails `up` at once with the
// process's last stderr lines; --timeout bounds the whole of it, the daemon's
// apply included (it gets the same deadline).
import { DAEMON_DEFAULTS } from "../contract/defaults.js";
import type { ServiceEvent } from "../contract/types.js";
import { parseDurationMs } from "../config/durations.js";
import { desiredStateSchema } from "../config/desired-state.js";
import type { DesiredState } from "../config/types.js";
import type { ApplyResult } from "../server/apply.js";
import { describeEnd } from "../server/process-end.js";
import { processRowBody } from "../server/wire.js";
import { applyResultBody } from "../server/wire-state.js";
import { ApiError, type DaemonClient } from "./client.js";
import { describeEvent, down } from "./commands.js";
import { CliError, EXIT, type GlobalOptions, ensureDaemon, remoteHost, resolveStateDir, runningDaemon } from "./context.js";
import { loadCliProject, type ProjectOptions } from "./project-files.js";
import { paint } from "./format.js";
import { survive } from "../util/diagnostics.js";
import { RunEnder } from "./up-abort.js";
import { followEvents } from "./up-events.js";
import { LogFollowers } from "./up-logs.js";
import { type UpOutcome, UpProgress } from "./up-progress.js";
import { failureMessage, timeoutMessage } from "./up-report.js";
import { ServiceWatchers } from "./watch.js";

export interface UpOptions extends ProjectOptions {
  /** `corral up web worker`: only these and what they depend on. */
  services?: string[];
  detach?: boolean;
  /** Seconds (main.ts defaults it to DAEMON_DEFAULTS.upTimeoutSeconds). */
  timeout: string;
  /** A duration ("2s", "500ms") or milliseconds; default DAEMON_DEFAULTS.upSettleMs. */
  waitSettle?: string;
  exitCodeFrom?: string;
  abortOnExit?: boolean;
  /** false with --no-watch: the services' watch: entries are not followed. */
  watch?: boolean;
  /** <host>:<port>: a daemon this up starts also serves the API there. */
  tcp?: string;
}

interface UpSettings {
  timeoutMs: number;
  settleMs: number;
  detach: boolean;
  /** Set when a process's end stops the run (foreground --abort-on-exit or --exit-code-from). */
  abort: { exitCodeFrom?: string } | undefined;
  /** Follow the services' watch: (foreground only). */
  watch: boolean;
}

function settingsOf(options: UpOptions): UpSettings {
  const timeoutSeconds = Number(options.timeout);
  if (!(timeoutSeconds > 0)) throw new CliError("--timeout must be a positive number of seconds", EXIT.usage);
  const settle = options.waitSettle ?? String(DAEMON_DEFAULTS.upSettleMs);
  const settleMs = /^\d+$/.test(settle) ? Number(settle) : parseDurationMs(settle);
  if (settleMs === undefined) throw new CliError('--wait-settle must be a duration such as "2s" or "500ms", or milliseconds', EXIT.usage);
  const abort = options.abortOnExit || options.exitCodeFrom !== undefined;
  if (abort && options.detach)
    throw new CliError(
      `${options.exitCodeFrom !== undefined ? "--exit-code-from" : "--abort-on-exit"} and --detach are incompatible`,
      EXIT.usage,
    );
  return {
    timeoutMs: timeoutSeconds * 1000,
    settleMs,
    detach: options.detach ?? false,
    abort: abort ? (options.exitCodeFrom !== undefined ? { exitCodeFrom: options.exitCodeFrom } : {}) : undefined,
    watch: options.watch !== false && options.detach !== true,
  };
}

/** Why the run ends early: Ctrl-C (or SIGTERM), a process's end under --abort-on-exit, or the daemon went away. */
type Stop = "interrupted" | "aborted" | "gone";

export async function up(options: UpOptions): Promise<void> {
  const settings = settingsOf(options);
  // From the start, not only once everything is online: Ctrl-C always pre-empts an apply in progress, or a daemon's start.
  const interrupt = settings.detach ? null : new Interrupt();
  // Loading writes nothing: a bad file changes nothing anywhere. Variables come from this command's environment, never the daemon's.
  const project = loadCliProject(options, options.services);
  const file = project.files[0]!;
  const state: DesiredState = project.state;
  if (settings.abort?.exitCodeFrom !== undefined && !Object.hasOwn(state.services, settings.abort.exitCodeFrom))
    throw new CliError(`--exit-code-from: no service "${settings.abort.exitCodeFrom}" in ${file}`, EXIT.usage);
  const stateDir = resolveStateDir({ ...options, file });
  // --host: the daemon runs elsewhere (and was started there); else one is started here when none answers.
  const client =
    remoteHost(options) !== undefined
      ? await runningDaemon(options)
      : await ensureDaemon(stateDir, state.environment, options.tcp === undefined ? {} : { tcp: options.tcp });
  // `up web`: web and its dependencies are applied; the other services the daemon runs stay as they are.
  const sent = options.services && options.services.length > 0 ? await withRunning(client, state) : state;
  await new UpRun(client, state, file, stateDir, settings, sent, { ...options, stateDir }, interrupt).run();
}

/** `state` with the services the daemon already runs that it does not name, unchanged. */
async function withRunning(client: DaemonClient, state: DesiredState): Promise<DesiredState> {
  const current = await client.get("/v1/state", desiredStateSchema.nullable());
  if (!current || current.namespace !== state.namespace) return state;
  return { ...state, services: { ...current.services, ...state.services } };
}

/**
 * Ctrl-C (or SIGTERM) in foreground `up`, from the moment it starts: one that
 * comes while the daemon is still being started is kept and handed to the run,
 * which then stops what started instead of leaving it running.
 */
class Interrupt {
  #pending = false;
  #handler: (() => void) | null = null;

  constructor() {
    const on = () => (this.#handler ? this.#handler() : (this.#pending = true));
    process.once("SIGINT", on);
    process.once("SIGTERM", on);
  }

  handOver(handler: () => void): void {
    this.#handler = handler;
    if (this.#pending) handler();
  }
}

class UpRun {
  readonly #startedAt = new Date();
  readonly #deadline: number;
  readonly #progress: UpProgress;
  readonly #logs: LogFollowers | null;
  readonly #ender: RunEnder | null;
  /** The first follows the apply; the second, opened once it answered, is judged from its snapshot on (whose states are not printed again). */
  readonly #streams: { controller: AbortController; done: Promise<void> }[] = [];
  readonly #stop: Promise<Stop>;
  /** The last state printed per process. */
  readonly #printed = new Map<string, string>();
  #requestStop!: (stop: Stop) => void;
  #watchers: ServiceWatchers | null = null;

  constructor(
    private readonly client: DaemonClient,
    private readonly state: DesiredState,
    private readonly file: string,
    private readonly stateDir: string,
    private readonly settings: UpSettings,
    /** What the daemon is sent: `state`, or with `up <services>` the other services it runs kept as they are. */
    private readonly sent: DesiredState,
    /** Where the daemon is (state dir or --host), for the stop. */
    private readonly globals: GlobalOptions,
    /** Ctrl-C came while the daemon was being started: the run stops at once. */
    interrupted: Interrupt | null,
  ) {
    this.#deadline = Date.now() + settings.timeoutMs;
    const expected = new Map(
      Object.entries(state.services).map(([id, spec]) => [id, { scale: spec.scale, job: spec.restart === "never" }]),
    );
    this.#progress = new UpProgress(expected, { settleMs: settings.settleMs, failOnCrashLoop: settings.detach });
    const width = Math.max(0, ...Object.keys(state.services).map((id) => id.length + 2));
    this.#logs = settings.detach ? null : new LogFollowers(client, this.#startedAt, width);
    this.#ender = settings.abort ? new RunEnder(state, settings.abort) : null;
    this.#stop = new Promise((resolveStop) => (this.#requestStop = resolveStop));
    interrupted?.handOver(() => this.#requestStop("interrupted"));
  }

  async run(): Promise<void> {
    this.#watch({ printSnapshot: true });
    const applying = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<{ kind: "timeout" }>((r) => (timer = setTimeout(() => r({ kind: "timeout" }), this.settings.timeoutMs)));
    try {
      const answer = this.#apply(applying.signal);
      const first = await Promise.race([
        answer,
        this.#progress.outcome,
        timedOut,
        this.#stop.then((stop) => ({ kind: "stop" as const, stop })),
      ]);
      let result: ApplyResult | undefined;
      let outcome: UpOutcome | { kind: "timeout" } | { kind: "stop"; stop: Stop };
      if (first.kind === "applied") {
        result = first.result;
        this.#summarise(result);
        this.#progress.applied([...result.blocked, ...result.waiting].map((s) => s.service));
        // The apply's answer may overtake the events it caused: a fresh snapshot is the state after it.
        this.#restartWatch();
        outcome =
          result.waiting.length > 0
            ? { kind: "timeout" }
            : await Promise.race([this.#progress.outcome, timedOut, this.#stop.then((stop) => ({ kind: "stop" as const, stop }))]);
      } else outcome = first;
      clearTimeout(timer);
      // Whatever ended the wait, the apply need not go on waiting for anyone.
      applying.abort();
      await this.#conclude(outcome, result);
    } finally {
      clearTimeout(timer);
      applying.abort();
      this.#progress.close();
      await this.#close();
    }
  }

  /** The daemon's apply, bounded by the same deadline; its failures are this command's. */
  async #apply(signal: AbortSignal): Promise<{ kind: "applied"; result: ApplyResult }> {
    const query = new URLSearchParams({ timeoutMs: String(Math.max(1, this.#deadline - Date.now())) });
    try {
      return {
        kind: "applied",
        result: await this.client.call("POST", `/v1/apply?${query.toString()}`, this.sent, applyResultBody, signal),
      };
    } catch (error) {
      if (signal.aborted) return new Promise(() => {}); // this command stopped waiting for it: something else decides
      if (error instanceof ApiError && error.status === 400) throw new CliError(`${this.file}: ${error.message}`, EXIT.usage);
      throw error;
    }
  }

  /** "3 processes online, 1 job completed": a job that ran is not online, and up does not say it is. */
  async #readyLine(): Promise<string> {
    const rows = await this.client.get("/v1/processes", processRowBody.array()).catch(() => null);
    if (!rows) return "every process is online and every job has completed";
    const online = rows.filter((r) => r.status === "online").length;
    const completed = rows.filter((r) => r.reason === "completed").length;
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : word.endsWith("s") ? "es" : "s"}`;
    return [`${plural(online, "process")} online`, ...(completed > 0 ? [`${plural(completed, "job")} completed`] : [])].join(", ");
  }

  #summarise(result: ApplyResult): void {
    const summary = [
      result.added.length ? `started ${result.added.join(", ")}` : "",
      result.changed.length ? `updated ${result.changed.join(", ")}` : "",
      result.removed.length ? `removed ${result.removed.join(", ")}` : "",
      result.unchanged.length ? `unchanged ${result.unchanged.join(", ")}` : "",
    ].filter(Boolean);
    process.stdout.write(`${paint("bold", summary.join("; ") || "nothing to do")}\n`);
  }

  async #conclude(outcome: UpOutcome | { kind: "timeout" } | { kind: "stop"; stop: Stop }, result: ApplyResult | undefined): Promise<void> {
    // Under --abort-on-exit a process's end stops the run, even when the same end (a job's failure) would fail it.
    if (this.#ender?.trigger && outcome.kind !== "stop") return this.#stopped("aborted");
    switch (outcome.kind) {
      case "ready":
        process.stdout.write(`${paint("green", await this.#readyLine())}\n`);
        if (this.settings.detach) return;
        this.#startWatching();
        return this.#stopped(await this.#stop);
      case "stop":
        return this.#stopped(outcome.stop);
      case "timeout":
        throw new CliError(timeoutMessage(this.settings.timeoutMs, this.#progress.pending(), result?.waiting ?? []));
      default: {
        const message = await failureMessage(this.client, this.state, outcome);
        const rest = this.settings.detach ? "" : "\n(the other services keep running; `corral down` stops them)";
        throw new CliError(`${message}${rest}`);
      }
    }
  }

  /** From the moment everything is up: a change restarts its service (watch.ts). */
  #startWatching(): void {
    if (!this.settings.watch) return;
    this.#watchers = new ServiceWatchers(this.state.services, this.client, (line) => process.stdout.write(`${line}\n`));
    if (this.#watchers.size === 0) return;
    this.#watchers.start();
    process.stdout.write(`${paint("cyan", "watching for file changes (--no-watch to turn off)")}\n`);
  }

  /** The foreground run ends: every service is stopped, and with --abort-on-exit the run exits as compose's does. */
  async #stopped(stop: Stop): Promise<void> {
    if (stop === "gone")
      throw new CliError(`the daemon went away (corral down elsewhere, or it was stopped); see ${this.stateDir}/daemon.log`);
    const trigger = this.#ender?.trigger;
    if (stop === "aborted" && trigger)
      process.stdout.write(
        `${paint("yellow", `aborting on process exit: ${trigger.serviceId}-${trigger.processId} ${describeEnd(trigger)}`)}\n`,
      );
    process.stdout.write(`\n${paint("yellow", "stopping every service gracefully (Ctrl-C again to leave them running)...")}\n`);
    process.once("SIGINT", () => void this.#leaveRunning());
    await this.#watchers?.close();
    // The output keeps coming while everything stops (what the last process wrote, what the stopping ones say); it ends with the daemon.
    await down(this.globals);
    await this.#logs?.close();
    if (!this.#ender) return;
    // The events of the stop were still followed: the chosen service's process may have ended only now.
    await Promise.all(this.#streams.map((s) => s.done));
    const status = this.#ender.exitStatus();
    if (status !== EXIT.ok) throw new CliError("", status);
  }

  /** A second Ctrl-C: the daemon stops stopping (what still runs keeps running) and this command ends now. */
  async #leaveRunning(): Promise<never> {
    process.stdout.write(`${paint("yellow", "leaving the services that still run running; `corral down` stops them")}\n`);
    await this.client.post("/v1/shutdown", { stopServices: false }).catch(survive("cli.up", "leave the services running"));
    process.exit(EXIT.failed);
  }

  #watch({ printSnapshot }: { printSnapshot: boolean }): void {
    const controller = new AbortController();
    const done = followEvents(this.client, controller.signal, {
      onEvent: (event, live) => this.#onEvent(event, live, { baseline: printSnapshot && !live }),
      ...(printSnapshot ? {} : { onSnapshotEnd: () => this.#progress.snapshotComplete() }),
    });
    // The stream that follows the run ends by itself only when the daemon does.
    if (!printSnapshot) void done.then(() => controller.signal.aborted || this.#requestStop("gone"));
    this.#streams.push({ controller, done });
  }

  #restartWatch(): void {
    for (const stream of this.#streams) stream.controller.abort();
    this.#progress.rebase();
    this.#watch({ printSnapshot: false });
  }

  /**
   * `baseline`: the first stream's snapshot, what was before up. Any other
   * event is news: a change, or a state of the second snapshot that the first
   * stream had not delivered yet (it happened while up waited, all the same).
   */
  #onEvent(event: ServiceEvent, afterSnapshot: boolean, { baseline }: { baseline: boolean }): void {
    if (!this.#progress.expects(event.serviceId)) return;
    const name = `${event.serviceId}/${event.processId}`;
    const signature = `${event.time.toISOString()} ${event.status} ${event.reason ?? ""}`;
    const live = !baseline && (afterSnapshot || this.#printed.get(name) !== signature);
    if (baseline || live) process.stdout.write(`${describeEvent(event)}\n`);
    this.#printed.set(name, signature);
    this.#logs?.follow(event);
    // Before the progress: under --abort-on-exit a job's failure stops the run rather than failing it.
    if (live && this.#ender?.observe(event)) this.#requestStop("aborted");
    this.#progress.observe(event, { live });
  }

  async #close(): Promise<void> {
    await this.#watchers?.close();
    for (const stream of this.#streams) stream.controller.abort();
    await Promise.all(this.#streams.map((s) => s.done));
    await this.#logs?.close();
  }
}
