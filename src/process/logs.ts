// Log capture. Each process writes its stdout and stderr into two named pipes
// in its run directory, opened read-write for it: the process itself then
// always holds a reader, so it never gets EPIPE when the orchestrator dies,
// and the next instance re-opens the pipes by path and keeps reading where
// the last one stopped (lines written meanwhile wait in the pipe buffer).
// We timestamp each line, append it to `<logDir>/<namespace>-<id>-<i>.log`
// (rotated by size, off the event loop: log-file.ts), hand it to followers
// once it is in the file, and optionally echo it.
//
// Back-pressure: while a process's write is in flight, each of its pipes is
// read at most once more and then not at all until the write ends, so a
// process that floods fills its own pipe and blocks in write(2); the
// orchestrator keeps at most two chunks per process and never waits for the disk.
//
// The one loss: what an orchestrator that is SIGKILLed had read but not yet
// written (at most the write in flight and a chunk per pipe). Lines written
// while no orchestrator reads wait in the pipe (64 KiB; then the writer blocks
// until the next instance adopts it) and get the time they are read.
import { isUtf8 } from "node:buffer";
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { EventEmitter } from "node:events";
import { chownSync, closeSync, constants, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { Socket, type OnReadOpts, type SocketConstructorOpts } from "node:net";
import type { LogLine, LogOptions } from "../contract/types.js";
import { reportSurvivable } from "../util/diagnostics.js";
import { isErrno } from "../util/errno.js";
import { LogFile, type LogBatch, type LogRotation } from "./log-file.js";

export { droppedLogLines, type LogRotation } from "./log-file.js";

const execFileAsync = promisify(execFile);

type Stream = LogLine["stream"];

/** One read from a pipe: its whole buffer (Linux's default capacity). */
const READ_BYTES = 64 * 1024;
/**
 * Every pipe of every process is read into this one buffer: Node calls back
 * with each read before the next read of any pipe, and a read's bytes are
 * copied out (timestamped) in that callback. So a thousand idle processes
 * hold no read buffers, and a flood allocates none per read.
 */
const readBuffer = Buffer.allocUnsafe(READ_BYTES);
/** A process that never ends a line must not grow its partial line without bound: past this it is a line. */
const MAX_PARTIAL = 64 * 1024;

/** Creates the named pipes that do not exist yet, in one mkfifo call (Node has no mkfifo). */
export function ensureFifos(paths: string[]): void {
  const argv = mkfifoArgv(paths);
  if (!argv) return;
  const result = spawnSync("mkfifo", argv, { encoding: "utf8" });
  // A spawn the machine refused (EMFILE, EAGAIN) keeps its errno: the caller tells it from a bug.
  if (result.error) throw result.error;
  if (result.status !== 0) throw mkfifoFailed(result.stderr);
}

/**
 * ensureFifos without holding the event loop, for a whole scale-up at once: at
 * 1000 pipes the kernel spends ~170 ms in mknod, which other services' events must not wait for.
 */
export async function ensureFifosInBackground(paths: string[]): Promise<void> {
  const argv = mkfifoArgv(paths);
  if (!argv) return;
  try {
    await execFileAsync("mkfifo", argv, { encoding: "utf8" });
  } catch (error) {
    if (error instanceof Error && "stderr" in error && typeof error.stderr === "string" && error.stderr !== "") {
      throw mkfifoFailed(error.stderr);
    }
    throw error;
  }
}

/** mkfifo's arguments for the pipes not made yet (owner-only), or null when every one exists. */
function mkfifoArgv(paths: string[]): string[] | null {
  const missing = paths.filter((p) => !existsSync(p));
  return missing.length === 0 ? null : ["-m", "600", ...missing];
}

function mkfifoFailed(stderr: string): Error {
  return new Error(`mkfifo failed: ${stderr}`);
}

/** net.Socket reads into a buffer of ours with `onread` for any socket it creates (documented for connect(), typed only there). */
interface PipeSocketOptions extends SocketConstructorOpts {
  onread: OnReadOpts;
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
  /** Readers stopped until the write in flight ends. */
  private paused = new Set<Socket>();
  private readonly partial: Record<Stream, Buffer | null> = { stdout: null, stderr: null };
  private readonly echo: string | undefined;
  private readonly file: LogFile;

  constructor(private readonly options: ProcessLogOptions) {
    this.lines.setMaxListeners(0);
    // Latin-1, as prefixLines works: the prefix's UTF-8 bytes, one character each.
    if (options.echoPrefix !== undefined) this.echo = Buffer.from(`${options.echoPrefix} | `).toString("latin1");
    this.file = new LogFile({
      file: options.file,
      rotation: options.rotation,
      written: (batches) => this.deliver(batches),
      ready: () => this.resume(),
    });
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
      const options: PipeSocketOptions = {
        fd,
        readable: true,
        writable: false,
        // Returning false stops reading this pipe (libuv's readStop) until resume().
        onread: { buffer: readBuffer, callback: (length, buffer) => this.onRead(stream, reader, buffer, length) },
      };
      const reader: Socket = new Socket(options);
      reader.on("end", () => {
        this.flushPartial(stream);
        reader.destroy();
      });
      reader.on("error", (error) => {
        reportSurvivable("process.logs", `read ${stream} pipe`, error, { path: this.options.fifos[stream] });
        reader.destroy();
      });
      // Flowing, so the end of the pipe is heard (no 'data' events: the bytes come to onRead).
      reader.resume();
      this.readers.push(reader);
    }
  }

  /** Stops reading; what the process writes from now on waits in the pipe for the next reader. */
  detach(): void {
    for (const reader of this.readers) reader.destroy();
    this.readers = [];
    this.paused.clear();
  }

  /**
   * Resolves once the pipes are at end-of-file (every writer gone, every line
   * read recorded), or after `boundMs` when something still holds them open.
   */
  async drained(boundMs: number): Promise<void> {
    const open = this.readers.filter((reader) => !reader.destroyed);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(open.map((reader) => new Promise((resolve) => reader.once("close", resolve)))).then(() => this.file.flushed()),
      new Promise((resolve) => (timer = setTimeout(resolve, boundMs))),
    ]);
    clearTimeout(timer);
  }

  /** Stops reading and writes what was read: synchronously when no write is in flight, else right after it. */
  close(): void {
    this.detach();
    for (const stream of ["stdout", "stderr"] as const) this.flushPartial(stream, false);
    this.file.close();
  }

  /** One read of a pipe: cut into lines, queued for the file. False stops reading this pipe until the write in flight ends. */
  private onRead(stream: Stream, reader: Socket, buffer: Uint8Array, length: number): boolean {
    this.ingest(stream, Buffer.from(buffer.buffer, buffer.byteOffset, length));
    if (!this.file.waiting) return true;
    this.paused.add(reader);
    return false;
  }

  private resume(): void {
    if (this.paused.size === 0) return;
    const paused = [...this.paused];
    this.paused.clear();
    for (const reader of paused) if (!reader.destroyed) reader.resume();
  }

  /** Takes the complete lines of `data` (a view of the shared read buffer: whatever is kept is copied). */
  private ingest(stream: Stream, data: Buffer): void {
    const partial = this.partial[stream];
    const end = data.lastIndexOf(10) + 1;
    if (end === 0) {
      const joined = partial ? Buffer.concat([partial, data]) : Buffer.from(data);
      if (joined.length <= MAX_PARTIAL) {
        this.partial[stream] = joined;
        return;
      }
      const cut = charBoundary(joined);
      this.partial[stream] = cut < joined.length ? joined.subarray(cut) : null;
      this.record(stream, Buffer.concat([joined.subarray(0, cut), NEWLINE]));
      return;
    }
    const lines = partial ? Buffer.concat([partial, data.subarray(0, end)]) : data.subarray(0, end);
    this.partial[stream] = end < data.length ? Buffer.from(data.subarray(end)) : null;
    this.record(stream, lines);
  }

  private flushPartial(stream: Stream, write = true): void {
    const partial = this.partial[stream];
    this.partial[stream] = null;
    if (partial) this.record(stream, Buffer.concat([partial, NEWLINE]), write);
  }

  /** Queues whole lines (`text` ends with a newline), stamped with the time they were read. */
  private record(stream: Stream, text: Buffer, write = true): void {
    // Bytes that are not UTF-8 become U+FFFD, as decoding them would.
    const utf8 = isUtf8(text) ? text : Buffer.from(text.toString("utf8"));
    const time = new Date();
    const prefix = `${time.toISOString()} ${stream} `;
    const { bytes, lines } = prefixLines(prefix, utf8);
    if (this.echo) (stream === "stdout" ? process.stdout : process.stderr).write(prefixLines(this.echo, utf8).bytes);
    const batch: LogBatch = { stream, time, bytes, lines, prefix: prefix.length };
    if (write) this.file.append(batch);
    else this.file.enqueue(batch);
  }

  /** Lines whose write ended: followers hear them now, when the files hold them. */
  private deliver(batches: LogBatch[]): void {
    if (this.lines.listenerCount("line") === 0) return;
    for (const { bytes, prefix, stream, time } of batches)
      for (let start = 0; start < bytes.length;) {
        const end = bytes.indexOf(10, start);
        this.lines.emit("line", { time, stream, line: bytes.toString("utf8", start + prefix, end) } satisfies LogLine);
        start = end + 1;
      }
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
    let unsubscribe: (() => void) | undefined;
    let cancelled = false;
    // Subscribe and read the files at a moment no write is in flight: the files then hold
    // exactly the lines delivered so far, so none falls between or comes twice.
    this.file.whenIdle(() => {
      if (cancelled) return;
      unsubscribe = this.onLine(listener);
      if (since !== undefined)
        for (const line of readLogFiles(this.options.file, this.options.rotation.files))
          if (line.time.getTime() >= since.getTime()) listener(line);
    });
    return () => {
      cancelled = true;
      unsubscribe?.();
    };
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
    let history: History | undefined;
    const onLine = (line: LogLine) => {
      live.push(line);
      wake?.();
    };
    const follow = options.follow ?? false;
    // Subscribe and open the files at a moment no write is in flight (at once, or when the
    // current one ends): the files then hold exactly the lines delivered so far, so none falls
    // between, and the descriptors keep each file as it is now even when it is rotated meanwhile.
    this.file.whenIdle(() => {
      if (done) return;
      if (follow) this.lines.on("line", onLine);
      history = openHistory(this.options.file, this.options.rotation.files);
      wake?.();
    });
    const finish = () => {
      done = true;
      this.lines.off("line", onLine);
      history?.close();
      wake?.();
    };
    if (options.signal?.aborted) finish();
    else options.signal?.addEventListener("abort", finish, { once: true });
    const wanted = (l: LogLine) =>
      (options.since === undefined || l.time >= options.since) && (options.until === undefined || l.time < options.until);
    async function* lines(): AsyncGenerator<LogLine> {
      try {
        while (history === undefined && !done) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
        if (history === undefined) return;
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

const NEWLINE = Buffer.from("\n");

/**
 * `prefix` before every line of `text` (whole lines: it ends with a newline),
 * in one new buffer. As Latin-1 strings, which map each byte to one character
 * and back, so UTF-8 passes through untouched: V8's replaceAll does in one
 * native pass what a copy per line costs twice over in JavaScript calls.
 */
function prefixLines(prefix: string, text: Buffer): { bytes: Buffer; lines: number } {
  const replaced = prefix + text.toString("latin1").replaceAll("\n", `\n${prefix}`);
  // The last newline got a prefix too: nothing follows it.
  const bytes = Buffer.from(replaced.slice(0, replaced.length - prefix.length), "latin1");
  return { bytes, lines: (bytes.length - text.length) / prefix.length };
}

/** Where to cut a long line without splitting a UTF-8 character: before the continuation bytes at its end. */
function charBoundary(text: Buffer): number {
  let cut = text.length;
  // At most 3 continuation bytes (10xxxxxx) follow a character's first byte.
  while (cut > text.length - 4 && cut > 0 && (text[cut - 1]! & 0xc0) === 0x80) cut--;
  // The first byte of the character they continue goes with them.
  if (cut < text.length && cut > 0 && text[cut - 1]! >= 0xc0) cut--;
  return cut === 0 ? text.length : cut;
}

interface History {
  batches(tail?: number): Iterable<LogLine[]>;
  close(): void;
}

/** The log files of a process as they are at this moment, opened oldest first, read one at a time on demand. */
function openHistory(file: string, files: number): History {
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

/** The lines of a log file's text; a last piece without its newline is a write still in flight (or one a full disk cut short), not a line yet. */
function parseLogText(text: string): LogLine[] {
  const lines: LogLine[] = [];
  const raws = text.split("\n");
  raws.pop();
  for (const raw of raws) {
    const match = LINE.exec(raw);
    if (match) lines.push({ time: new Date(match[1]!), stream: match[2] === "stderr" ? "stderr" : "stdout", line: match[3]! });
  }
  return lines;
}

// `s`: a line's text may hold a carriage return (a progress bar, a CRLF program), which `.` alone does not match.
const LINE = /^(\S+) (stdout|stderr) (.*)$/s;

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
    const lines = parseLogText(text);
    collected.unshift(lines);
    count += lines.length;
    if (tail !== undefined && count >= tail) break;
  }
  const all = collected.flat();
  return tail === undefined ? all : tail === 0 ? [] : all.slice(-tail);
}
