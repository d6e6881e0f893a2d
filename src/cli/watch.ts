// `watch:` under a foreground `corral up` (as `docker compose watch` runs in
// the foreground CLI): a change to a service's watched files replaces its
// processes through the daemon's rolling restart (POST /v1/services/:id/restart:
// one process at a time, each ready before the next goes), so a service of two
// or more processes never drops to zero. Changes within debounceMs make one
// restart; `sync-restart` copies the changed files to `target` first.
//
// Restart loops: a process that writes into its own watched tree while it
// starts would restart itself for ever. A restart whose trigger came in while
// the previous restart ran (or within LOOP_WINDOW_MS after it) is "self-made";
// LOOP_LIMIT of them in a row stop the service's watch and say which files.
import { type FSWatcher, cpSync, existsSync, mkdirSync, rmSync, statSync, watch } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import type { ServiceSpec } from "../config/types.js";
import { WATCH_DEFAULTS, WATCH_DEFAULT_EXCLUDES, type WatchEntry, globMatcher } from "../config/watch-rules.js";
import type { DaemonClient } from "./client.js";
import { paint } from "./format.js";

const LOOP_WINDOW_MS = 1000;
const LOOP_LIMIT = 3;

/** What the watchers say, line by line (up prints them with its other output). */
export type WatchOutput = (line: string) => void;

interface Change {
  entry: number;
  /** Relative to the entry's path ("." for the path itself). */
  file: string;
  at: number;
}

class WatchedService {
  readonly #watchers: FSWatcher[] = [];
  readonly #matchers: { include: ((p: string) => boolean)[]; exclude: ((p: string) => boolean)[] }[];
  #pending: Change[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;
  #lastRestart: { startedAt: number; endedAt: number | null } | null = null;
  #selfMade = 0;
  #stopped = false;

  constructor(
    private readonly id: string,
    private readonly entries: readonly WatchEntry[],
    private readonly client: DaemonClient,
    private readonly out: WatchOutput,
  ) {
    this.#matchers = entries.map((e) => ({
      include: (e.include ?? []).map(globMatcher),
      exclude: [...WATCH_DEFAULT_EXCLUDES, ...(e.exclude ?? [])].map(globMatcher),
    }));
  }

  start(): void {
    for (const [index, entry] of this.entries.entries()) {
      if (!existsSync(entry.path)) {
        this.out(paint("yellow", `watch: ${this.id}: ${entry.path} does not exist; not watched`));
        continue;
      }
      const directory = statSync(entry.path).isDirectory();
      // A file is watched through its directory: editors replace files (rename), which ends a watch on the file itself.
      const watcher = watch(directory ? entry.path : dirname(entry.path), { recursive: directory }, (_event, name) => {
        const file = name === null ? "." : name.toString();
        if (!directory && file !== basename(entry.path)) return;
        this.#changed(index, directory ? file : ".");
      });
      watcher.on("error", (error) => this.out(paint("red", `watch: ${this.id}: ${entry.path}: ${error.message}`)));
      this.#watchers.push(watcher);
    }
  }

  #counts(index: number, file: string): boolean {
    const m = this.#matchers[index]!;
    if (file !== "." && m.exclude.some((match) => match(file))) return false;
    return m.include.length === 0 || file === "." || m.include.some((match) => match(file));
  }

  #changed(index: number, file: string): void {
    if (this.#stopped || !this.#counts(index, file)) return;
    this.#pending.push({ entry: index, file, at: Date.now() });
    clearTimeout(this.#timer);
    const debounce = Math.max(...this.#pending.map((c) => this.entries[c.entry]!.debounceMs ?? WATCH_DEFAULTS.debounceMs));
    this.#timer = setTimeout(() => this.#fire(), debounce);
  }

  #fire(): void {
    // A restart in progress finishes first; what changed meanwhile makes the next one.
    if (this.#running || this.#stopped || this.#pending.length === 0) return;
    this.#running = this.#restart().finally(() => {
      this.#running = null;
      if (this.#pending.length > 0) this.#fire();
    });
  }

  async #restart(): Promise<void> {
    const changes = this.#pending;
    this.#pending = [];
    const last = this.#lastRestart;
    const selfMade =
      last !== null && changes.every((c) => c.at >= last.startedAt && (last.endedAt === null || c.at - last.endedAt < LOOP_WINDOW_MS));
    this.#selfMade = selfMade ? this.#selfMade + 1 : 0;
    const files = [...new Set(changes.map((c) => join(this.entries[c.entry]!.path, c.file)))];
    const shown = files.map((f) => relative(process.cwd(), f) || f);
    if (this.#selfMade >= LOOP_LIMIT) {
      this.stop();
      this.out(
        paint(
          "red",
          `watch: ${this.id}: restart loop: ${LOOP_LIMIT} restarts in a row were set off by changes made while it restarted (${shown.slice(0, 5).join(", ")}${shown.length > 5 ? ", ..." : ""}): it writes into its own watched tree. Watching ${this.id} stopped; exclude those paths (watch: exclude) and run corral up again.`,
        ),
      );
      return;
    }
    try {
      this.#sync(changes);
    } catch (error) {
      this.out(paint("red", `watch: ${this.id}: sync failed, not restarted: ${error instanceof Error ? error.message : String(error)}`));
      return;
    }
    this.out(
      paint(
        "cyan",
        `watch: ${this.id}: ${shown.slice(0, 3).join(", ")}${shown.length > 3 ? ` and ${shown.length - 3} more` : ""} changed; restarting`,
      ),
    );
    const record = { startedAt: Date.now(), endedAt: null as number | null };
    this.#lastRestart = record;
    try {
      await this.client.post(`/v1/services/${this.id}/restart`);
      this.out(paint("cyan", `watch: ${this.id}: restarted`));
    } catch (error) {
      // A replacement that does not come up stops the roll; the processes not yet replaced keep running.
      this.out(paint("red", `watch: ${this.id}: restart failed: ${error instanceof Error ? error.message : String(error)}`));
    } finally {
      record.endedAt = Date.now();
    }
  }

  /** sync-restart: each changed file copied to (or, when gone, removed from) the entry's target. */
  #sync(changes: readonly Change[]): void {
    for (const change of changes) {
      const entry = this.entries[change.entry]!;
      if (entry.action !== "sync-restart" || entry.target === undefined) continue;
      const directory = existsSync(entry.path) && statSync(entry.path).isDirectory();
      const source = change.file === "." || !directory ? entry.path : join(entry.path, change.file);
      const destination = change.file === "." ? entry.target : join(entry.target, change.file);
      if (existsSync(source)) {
        mkdirSync(dirname(destination), { recursive: true });
        cpSync(source, destination, { recursive: true, force: true });
      } else rmSync(destination, { recursive: true, force: true });
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers.length = 0;
  }

  /** Resolves once a restart in progress has been answered. */
  async settled(): Promise<void> {
    await this.#running;
  }
}

/** The watchers of every service of a file that has `watch:`. */
export class ServiceWatchers {
  readonly #services: WatchedService[];

  constructor(services: Record<string, ServiceSpec>, client: DaemonClient, out: WatchOutput) {
    this.#services = Object.entries(services)
      .filter(([, spec]) => (spec.watch ?? []).length > 0)
      .map(([id, spec]) => new WatchedService(id, spec.watch ?? [], client, out));
  }

  get size(): number {
    return this.#services.length;
  }

  start(): void {
    for (const service of this.#services) service.start();
  }

  async close(): Promise<void> {
    for (const service of this.#services) service.stop();
    await Promise.all(this.#services.map((s) => s.settled()));
  }
}
