// Log capture. Each process writes its stdout and stderr into two named pipes
// in its run directory, opened read-write for it: the process itself then
// always holds a reader, so it never gets EPIPE when the orchestrator dies,
// and the next instance re-opens the pipes by path and keeps reading where
// the last one stopped (lines written meanwhile wait in the pipe buffer).
// We timestamp each line, append it to `<logDir>/<namespace>-<id>-<i>.log`
// (rotated by size), hand it to followers and optionally echo it. The one
// loss: a chunk read by an orchestrator that is SIGKILLed before it wrote it.
// Lines written while no orchestrator reads wait in the pipe (64 KiB; then the
// writer blocks until the next instance adopts it) and get the time they are read.
import { spawnSync } from "node:child_process";
import { EventEmitter } from "node:events";
import {
  chownSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { Socket } from "node:net";
import type { LogLine, LogOptions } from "../contract/types.js";
import { reportSurvivable } from "../util/diagnostics.js";
import { errnoCode, isErrno } from "../util/errno.js";

export interface LogRotation {
  /** Size at which the current file is rotated. */
  maxBytes: number;
  /** Files kept in all, the current one included. */
  files: number;
}

type Stream = LogLine["stream"];

/** Lines no log file took (a full disk, no descriptors left), in this process: counted, reported once per episode. */
const dropped = { lines: 0, lastError: "" };

/** How many log lines this process could not write since it started, and the latest reason. */
export function droppedLogLines(): { lines: number; lastError: string } {
  return { ...dropped };
}

/** Creates the named pipes that do not exist yet, in one mkfifo call (Node has no mkfifo). */
export function ensureFifos(paths: string[]): void {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length === 0) return;
  const result = spawnSync("mkfifo", ["-m", "600", ...missing], { encoding: "utf8" });
  // A spawn the machine refused (EMFILE, EAGAIN) keeps its errno: the caller tells it from a bug.
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`mkfifo failed: ${result.stderr}`);
}

export interface ProcessLogOptions {
  fifos: Record<Stream, string>;
  file: string;
  rotation: LogRotation;
  /** Echo each line as `<prefix> | <line>` on our own stdout/stderr. */
  echoPrefix?: string;
}

/** The log of one process slot: survives restarts of the process and of the orchestrator. */
export class ProcessLog {
  private readonly lines = new EventEmitter();
  private readers: Socket[] = [];
  private fd: number | null = null;
  private size = 0;
  private readonly partial: Record<Stream, string> = { stdout: "", stderr: "" };
  /** Lines dropped since the last write that succeeded: written as one marker line once writing works again. */
  private droppedSince = 0;

  constructor(private readonly options: ProcessLogOptions) {
    this.lines.setMaxListeners(0);
  }

  /**
   * Opens the pipes for a process about to be spawned and starts reading
   * them. Returns the descriptors to give the child; close them once it is spawned.
   */
  openForChild(): { stdout: number; stderr: number } {
    ensureFifos(Object.values(this.options.fifos));
    // Writers first, then readers, and ours closed only after the spawn: a
    // process that writes and exits at once still leaves its bytes in the pipe.
    const stdout = openSync(this.options.fifos.stdout, constants.O_RDWR);
    const stderr = openSync(this.options.fifos.stderr, constants.O_RDWR);
    this.startReading();
    return { stdout, stderr };
  }

  /**
   * Descriptors for a lifecycle hook's output: the same pipes, so its lines are
   * the process's; while the pipes are read (the process runs) the readers are
   * left alone, else reading starts as for a spawn. Close them once it is spawned.
   */
  openForHook(): { stdout: number; stderr: number } {
    if (!this.readers.some((reader) => !reader.destroyed)) return this.openForChild();
    return {
      stdout: openSync(this.options.fifos.stdout, constants.O_RDWR),
      stderr: openSync(this.options.fifos.stderr, constants.O_RDWR),
    };
  }

  /**
   * Gives the pipes to the user a process runs as: it writes through the
   * descriptors it inherits, but a program that reopens `/dev/stdout` opens the
   * pipe by its path. They stay in corral's run directory, where that user can
   * neither replace nor remove them.
   */
  shareWith(owner: { uid: number; gid: number }): void {
    for (const path of Object.values(this.options.fifos)) {
      const stats = statSync(path);
      if (stats.uid !== owner.uid || stats.gid !== owner.gid) chownSync(path, owner.uid, owner.gid);
    }
  }

  /** Starts reading the pipes (again): after a spawn, or for an adopted process. */
  attach(): void {
    ensureFifos(Object.values(this.options.fifos));
    this.startReading();
  }

  private startReading(): void {
    this.detach();
    for (const stream of ["stdout", "stderr"] as const) {
      const fd = openSync(this.options.fifos[stream], constants.O_RDONLY | constants.O_NONBLOCK);
      const reader = new Socket({ fd, readable: true, writable: false });
      reader.setEncoding("utf8");
      reader.on("data", (chunk: string) => this.ingest(stream, chunk));
      reader.on("end", () => {
        this.flushPartial(stream);
        reader.destroy();
      });
      reader.on("error", (error) => {
        reportSurvivable("process.logs", `read ${stream} pipe`, error, { path: this.options.fifos[stream] });
        reader.destroy();
      });
      this.readers.push(reader);
    }
  }

  /** Stops reading; what the process writes from now on waits in the pipe for the next reader. */
  detach(): void {
    for (const reader of this.readers) reader.destroy();
    this.readers = [];
  }

  /**
   * Resolves once the pipes are at end-of-file (every writer gone, every line
   * read recorded), or after `boundMs` when something still holds them open.
   */
  async drained(boundMs: number): Promise<void> {
    const open = this.readers.filter((reader) => !reader.destroyed);
    if (open.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(open.map((reader) => new Promise((resolve) => reader.once("close", resolve)))),
      new Promise((resolve) => (timer = setTimeout(resolve, boundMs))),
    ]);
    clearTimeout(timer);
  }

  close(): void {
    this.detach();
    for (const stream of ["stdout", "stderr"] as const) this.flushPartial(stream);
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private ingest(stream: Stream, chunk: string): void {
    const text = this.partial[stream] + chunk;
    const parts = text.split("\n");
    let rest = parts.pop() ?? "";
    // A process that never ends a line must not grow this buffer without bound.
    if (rest.length > 64 * 1024) {
      parts.push(rest);
      rest = "";
    }
    this.partial[stream] = rest;
    if (parts.length > 0) this.record(stream, parts);
  }

  private flushPartial(stream: Stream): void {
    if (this.partial[stream]) this.record(stream, [this.partial[stream]]);
    this.partial[stream] = "";
  }

  private record(stream: Stream, texts: string[]): void {
    const time = new Date();
    const stamp = time.toISOString();
    this.append(texts.map((line) => `${stamp} ${stream} ${line}\n`));
    if (this.options.echoPrefix !== undefined) {
      const target = stream === "stdout" ? process.stdout : process.stderr;
      target.write(texts.map((line) => `${this.options.echoPrefix} | ${line}\n`).join(""));
    }
    for (const line of texts) this.lines.emit("line", { time, stream, line } satisfies LogLine);
  }

  /**
   * Appends whole lines; when the file system refuses them (ENOSPC, EDQUOT,
   * EMFILE, ...) they are dropped and counted, never thrown into the pipe
   * reader (which would take the orchestrator down). The next write that
   * works first records how many were lost.
   */
  private append(lines: string[]): void {
    const marker =
      this.droppedSince > 0
        ? [`${new Date().toISOString()} stderr [corral: ${this.droppedSince} log lines dropped: ${dropped.lastError}]\n`]
        : [];
    try {
      this.appendLines([...marker, ...lines]);
      this.droppedSince = 0;
    } catch (error) {
      if (this.droppedSince === 0) reportSurvivable("process.logs", "write log file", error, { path: this.options.file });
      this.droppedSince += lines.length;
      dropped.lines += lines.length;
      dropped.lastError = errnoCode(error) ?? (error instanceof Error ? error.message : String(error));
      // A descriptor that failed mid-rotation is reopened by the next write.
      if (this.fd !== null && isErrno(error, "EBADF")) this.fd = null;
    }
  }

  /** Appends whole lines, rotating between lines so no file grows past maxBytes (unless one line alone is longer). */
  private appendLines(lines: string[]): void {
    if (this.fd === null) {
      this.fd = openSync(this.options.file, "a", 0o640);
      this.size = fstatSync(this.fd).size;
    }
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const flush = () => {
      if (batchBytes === 0) return;
      const data = Buffer.concat(batch, batchBytes);
      // A write the disk fills in the middle of is short; the rest then fails with ENOSPC.
      for (let at = 0; at < data.length;) {
        const written = writeSync(this.fd!, data, at);
        at += written;
        this.size += written;
      }
      batch = [];
      batchBytes = 0;
    };
    for (const line of lines) {
      const bytes = Buffer.from(line);
      if (this.size + batchBytes > 0 && this.size + batchBytes + bytes.length > this.options.rotation.maxBytes) {
        flush();
        this.rotate();
      }
      batch.push(bytes);
      batchBytes += bytes.length;
    }
    flush();
  }

  private rotate(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    const { file } = this.options;
    const keep = this.options.rotation.files;
    rmSync(`${file}.${keep - 1}`, { force: true });
    for (let i = keep - 2; i >= 1; i--) if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    if (keep > 1) renameSync(file, `${file}.1`);
    else rmSync(file, { force: true });
    this.fd = openSync(file, "a", 0o640);
    this.size = 0;
  }

  /** Calls `listener` with every line recorded from now on (logLine probes read them here: no reader of their own); returns the unsubscribe. */
  onLine(listener: (line: LogLine) => void): () => void {
    this.lines.on("line", listener);
    return () => this.lines.off("line", listener);
  }

  /**
   * Like onLine, but first replays the recorded lines from `since` on, when
   * given: an adopted process may have printed its line before we read it.
   */
  followSince(since: Date | undefined, listener: (line: LogLine) => void): () => void {
    // Subscribe and read in one tick: lines are recorded synchronously, so none falls between or comes twice.
    const unsubscribe = this.onLine(listener);
    if (since !== undefined)
      for (const line of readLogFiles(this.options.file, this.options.rotation.files))
        if (line.time.getTime() >= since.getTime()) listener(line);
    return unsubscribe;
  }

  /**
   * The last `tail` lines (all without it), then, with `follow`, every new
   * line until `signal` aborts; only lines in [since, until) when given.
   * The history is read file by file as the reader asks for it: a large
   * history (five rotated files of 10 MiB) is never one array, nor spread.
   */
  read(options: LogOptions = {}): AsyncIterableIterator<LogLine> {
    const live: LogLine[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    const onLine = (line: LogLine) => {
      live.push(line);
      wake?.();
    };
    const follow = options.follow ?? false;
    // Subscribe and open the files in one tick: lines are recorded synchronously, so none falls
    // between, and the descriptors keep each file as it is now even when it is rotated meanwhile.
    if (follow) this.lines.on("line", onLine);
    const history = openHistory(this.options.file, this.options.rotation.files);
    const finish = () => {
      done = true;
      this.lines.off("line", onLine);
      history.close();
      wake?.();
    };
    if (options.signal?.aborted) finish();
    else options.signal?.addEventListener("abort", finish, { once: true });
    const wanted = (l: LogLine) =>
      (options.since === undefined || l.time >= options.since) && (options.until === undefined || l.time < options.until);
    async function* lines(): AsyncGenerator<LogLine> {
      try {
        for (const batch of history.batches(options.tail))
          for (const line of batch) {
            if (done) return;
            if (wanted(line)) yield line;
          }
        history.close();
        if (!follow) return;
        // Live lines by index, not shift(): a burst of them is not copied once per line.
        let next = 0;
        for (;;) {
          while (next < live.length && !done) {
            const line = live[next++]!;
            if (wanted(line)) yield line;
          }
          if (done) return;
          live.length = 0;
          next = 0;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      } finally {
        finish();
      }
    }
    return lines();
  }
}

/** The log files of a process as they are at this moment, opened oldest first, read one at a time on demand. */
function openHistory(file: string, files: number): { batches(tail?: number): Iterable<LogLine[]>; close(): void } {
  const opened: { fd: number; size: number; path: string }[] = [];
  for (let i = files - 1; i >= 0; i--) {
    const path = i === 0 ? file : `${file}.${i}`;
    try {
      const fd = openSync(path, "r");
      opened.push({ fd, size: fstatSync(fd).size, path });
    } catch (error) {
      // Fewer rotated files than the rotation keeps is the usual case.
      if (!isErrno(error, "ENOENT")) reportSurvivable("process.logs", "open log file", error, { path });
    }
  }
  const parse = (source: (typeof opened)[number]): LogLine[] => {
    const buffer = Buffer.alloc(source.size);
    let read = 0;
    while (read < source.size) {
      const n = readSync(source.fd, buffer, read, source.size - read, read);
      if (n === 0) break;
      read += n;
    }
    closeSync(source.fd);
    source.fd = -1;
    return parseLogText(buffer.toString("utf8", 0, read));
  };
  return {
    *batches(tail?: number): Iterable<LogLine[]> {
      if (tail === undefined) {
        for (const source of opened) yield parse(source);
        return;
      }
      if (tail === 0) return;
      // The newest files, back to the one that holds the first of the last `tail` lines.
      const newest: LogLine[][] = [];
      let count = 0;
      for (let i = opened.length - 1; i >= 0 && count < tail; i--) {
        const lines = parse(opened[i]!);
        newest.push(lines);
        count += lines.length;
      }
      for (let i = newest.length - 1; i >= 0; i--) {
        const lines = newest[i]!;
        // Only the oldest of them is cut: the lines before the last `tail`.
        yield i === newest.length - 1 && count > tail ? lines.slice(count - tail) : lines;
      }
    },
    close(): void {
      for (const source of opened) if (source.fd >= 0) closeSync(source.fd);
      for (const source of opened) source.fd = -1;
    },
  };
}

function parseLogText(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const raw of text.split("\n")) {
    const match = LINE.exec(raw);
    if (match) lines.push({ time: new Date(match[1]!), stream: match[2] === "stderr" ? "stderr" : "stdout", line: match[3]! });
  }
  return lines;
}

const LINE = /^(\S+) (stdout|stderr) (.*)$/;

/** Lines of a log file and its rotated predecessors, oldest first; only the last `tail` when given. */
export function readLogFiles(file: string, files: number, tail?: number): LogLine[] {
  const collected: LogLine[][] = [];
  let count = 0;
  for (let i = 0; i < files; i++) {
    const path = i === 0 ? file : `${file}.${i}`;
    let text: string;
    try {
      if (!statSync(path).isFile()) continue;
      text = readFileSync(path, "utf8");
    } catch (error) {
      // Fewer rotated files than the rotation keeps is the usual case.
      if (!isErrno(error, "ENOENT")) reportSurvivable("process.logs", "read log file", error, { path });
      continue;
    }
    const lines = text.split("\n").flatMap((raw): LogLine[] => {
      const match = LINE.exec(raw);
      return match ? [{ time: new Date(match[1]!), stream: match[2] === "stderr" ? "stderr" : "stdout", line: match[3]! }] : [];
    });
    collected.unshift(lines);
    count += lines.length;
    if (tail !== undefined && count >= tail) break;
  }
  const all = collected.flat();
  return tail === undefined ? all : tail === 0 ? [] : all.slice(-tail);
}
