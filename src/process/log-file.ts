// One process's log file on disk: batches of timestamped lines appended off
// the event loop (the libuv pool), one write in flight at a time, rotated by
// size between lines. ProcessLog (logs.ts) stops reading a process's pipes
// while its write is in flight, so a process that floods its logs fills its
// own pipe and blocks in write(2); the orchestrator's event loop never waits
// for the disk. What a write could not store (ENOSPC, EDQUOT, EMFILE, ...) is
// dropped and counted, and the next write that works starts with a marker line.
import { close, closeSync, fstat, fstatSync, open, openSync, rename, renameSync, rm, rmSync, write, writeSync } from "node:fs";
import type { LogLine } from "../contract/types.js";
import { reportSurvivable } from "../util/diagnostics.js";
import { errnoCode, isErrno } from "../util/errno.js";

export interface LogRotation {
  /** Size at which the current file is rotated. */
  maxBytes: number;
  /** Files kept in all, the current one included. */
  files: number;
}

/** Lines read together from one stream, as they go into the file. */
export interface LogBatch {
  stream: LogLine["stream"];
  time: Date;
  /** `<ISO time> <stream> <line>\n` for every line. */
  bytes: Buffer;
  lines: number;
  /** Bytes before each line's text (`<ISO time> <stream> `). */
  prefix: number;
}

/** Lines no log file took (a full disk, no descriptors left), in this process: counted, reported once per episode. */
const dropped = { lines: 0, lastError: "" };

/** How many log lines this process could not write since it started, and the latest reason. */
export function droppedLogLines(): { lines: number; lastError: string } {
  return { ...dropped };
}

/**
 * Log writes (and rotations) in flight at once over every process: libuv's pool
 * has 4 threads, and the rest of the orchestrator's file work (PID records,
 * cgroup files, /proc reads for metrics) keeps the other two even while many
 * processes flood.
 */
const WRITE_SLOTS = 2;
const slots = { free: WRITE_SLOTS, waiting: [] as (() => void)[] };

function acquireSlot(): Promise<void> {
  if (slots.free > 0) {
    slots.free--;
    return Promise.resolve();
  }
  return new Promise((resolve) => slots.waiting.push(resolve));
}

function releaseSlot(): void {
  const next = slots.waiting.shift();
  if (next) next();
  else slots.free++;
}

/** Bytes for one file, written in order; `rotateFirst` when the file rotates before them. */
interface Segment {
  rotateFirst: boolean;
  data: Buffer[];
  bytes: number;
  /** Lines of the process in `data` (not the marker): what is counted when the write fails. */
  lines: number;
  /** The marker of earlier drops is in `data`: once written, the count starts again. */
  marker: boolean;
}

const NEWLINE = Buffer.from("\n");

const openAsync = (path: string) =>
  new Promise<number>((resolve, reject) => open(path, "a", 0o640, (error, fd) => (error ? reject(error) : resolve(fd))));
const sizeAsync = (fd: number) =>
  new Promise<number>((resolve, reject) => fstat(fd, (error, stats) => (error ? reject(error) : resolve(stats.size))));
const closeAsync = (fd: number) => new Promise<void>((resolve, reject) => close(fd, (error) => (error ? reject(error) : resolve())));
const renameAsync = (from: string, to: string) =>
  new Promise<void>((resolve, reject) => rename(from, to, (error) => (error ? reject(error) : resolve())));
const rmAsync = (path: string) =>
  new Promise<void>((resolve, reject) => rm(path, { force: true }, (error) => (error ? reject(error) : resolve())));
const writeAsync = (fd: number, data: Buffer, at: number) =>
  new Promise<number>((resolve, reject) =>
    write(fd, data, at, data.length - at, null, (error, written) => (error ? reject(error) : resolve(written))),
  );

export interface LogFileOptions {
  file: string;
  rotation: LogRotation;
  /** Batches whose write has ended (stored or dropped), in order: the moment followers hear of them. */
  written(batches: LogBatch[]): void;
  /** A write ended: the pipes paused for it may be read again. */
  ready(): void;
}

export class LogFile {
  /** Files whose queue a process exit would lose: written synchronously from the 'exit' event. */
  private static readonly unwritten = new Set<LogFile>();
  private static exitHook = false;

  private fd: number | null = null;
  private size = 0;
  private queue: LogBatch[] = [];
  private inFlight = false;
  private closing = false;
  /** A write the disk filled stopped inside a line: the next one starts on a new line. */
  private midLine = false;
  /** Lines dropped since the last write that succeeded: written as one marker line once writing works again. */
  private droppedSince = 0;
  private idleWaiters: (() => void)[] = [];
  private flushWaiters: (() => void)[] = [];

  constructor(private readonly options: LogFileOptions) {}

  /** A write is in flight (or waiting for a slot) and lines wait behind it: the pipes should wait too. */
  get waiting(): boolean {
    return this.inFlight && this.queue.length > 0;
  }

  /** Queues a batch and starts writing it unless a write is in flight. */
  append(batch: LogBatch): void {
    this.enqueue(batch);
    this.pump();
  }

  /** Queues a batch for the next write (close() writes it). */
  enqueue(batch: LogBatch): void {
    this.closing = false;
    this.queue.push(batch);
  }

  /**
   * Calls `callback` at a moment no write is in flight: at once when none is,
   * else right after the current one ends, before the next starts. The files
   * then hold exactly the batches followers have heard of, so a reader that
   * subscribes and opens the files in that callback misses no line and gets none twice.
   */
  whenIdle(callback: () => void): void {
    if (this.inFlight) this.idleWaiters.push(callback);
    else callback();
  }

  /** Resolves once every batch appended so far has been written (or dropped). */
  flushed(): Promise<void> {
    if (!this.inFlight && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  /**
   * Writes what is queued and closes the descriptor: at once (synchronously:
   * a stop, not the hot path) when no write is in flight, else as soon as it ends.
   */
  close(): void {
    this.closing = true;
    if (this.inFlight) return;
    this.writeQueuedSync();
    this.closeDescriptor();
  }

  private pump(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batches = this.queue;
    this.queue = [];
    this.inFlight = true;
    LogFile.remember(this);
    void this.writeOut(batches);
  }

  private async writeOut(batches: LogBatch[]): Promise<void> {
    await acquireSlot();
    try {
      if (this.fd === null) {
        const fd = await openAsync(this.options.file);
        this.fd = fd;
        this.size = await sizeAsync(fd);
      }
      const segments = this.plan(batches);
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i]!;
        try {
          if (segment.rotateFirst) await this.rotateAsync();
          await this.writeSegmentAsync(segment);
        } catch (error) {
          this.lost(error, segments.slice(i));
          break;
        }
      }
    } catch (error) {
      // The file would not open: every line of these batches is lost.
      this.lost(error, [{ rotateFirst: false, data: [], bytes: 0, lines: countLines(batches), marker: false }]);
    } finally {
      releaseSlot();
      this.settled(batches);
    }
  }

  private settled(batches: LogBatch[]): void {
    this.inFlight = false;
    try {
      this.options.written(batches);
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const waiter of waiters) waiter();
    } catch (error) {
      reportSurvivable("process.logs", "deliver log lines", error, { path: this.options.file });
    } finally {
      if (this.queue.length > 0) this.pump();
      else {
        if (this.closing) this.closeDescriptor();
        LogFile.unwritten.delete(this);
        const waiters = this.flushWaiters;
        this.flushWaiters = [];
        for (const waiter of waiters) waiter();
      }
      this.options.ready();
    }
  }

  /**
   * Cuts the batches into the bytes of each file: the file rotates before a
   * line that would take it past maxBytes (unless it is empty: one line alone
   * may be longer). A marker of earlier drops goes first.
   */
  private plan(batches: LogBatch[]): Segment[] {
    const { maxBytes } = this.options.rotation;
    const segments: Segment[] = [];
    let segment: Segment = { rotateFirst: false, data: [], bytes: 0, lines: 0, marker: false };
    let size = this.size;
    const add = (data: Buffer, lines: number) => {
      segment.data.push(data);
      segment.bytes += data.length;
      segment.lines += lines;
      size += data.length;
    };
    const rotate = () => {
      if (segment.data.length > 0 || segment.rotateFirst) segments.push(segment);
      segment = { rotateFirst: true, data: [], bytes: 0, lines: 0, marker: false };
      size = 0;
    };
    if (this.midLine) add(NEWLINE, 0);
    const all =
      this.droppedSince > 0
        ? [
            markerBatch(`[corral: ${this.droppedSince} log lines dropped: ${dropped.lastError}]`),
            ...batches.map((b) => ({ ...b, marker: false })),
          ]
        : batches.map((b) => ({ ...b, marker: false }));
    for (const batch of all) {
      const { bytes } = batch;
      if (size + bytes.length <= maxBytes) {
        add(bytes, batch.marker ? 0 : batch.lines);
        segment.marker ||= batch.marker;
        continue;
      }
      // Line by line, only in a batch that crosses the size.
      let from = 0;
      let lines = 0;
      for (let start = 0; start < bytes.length;) {
        const end = bytes.indexOf(10, start) + 1;
        const pending = start - from;
        if (size + pending > 0 && size + pending + (end - start) > maxBytes) {
          if (pending > 0) add(bytes.subarray(from, start), batch.marker ? 0 : lines);
          segment.marker ||= batch.marker && pending > 0;
          rotate();
          from = start;
          lines = 0;
        }
        lines++;
        start = end;
      }
      add(bytes.subarray(from), batch.marker ? 0 : lines);
      segment.marker ||= batch.marker;
    }
    if (segment.data.length > 0 || segment.rotateFirst) segments.push(segment);
    return segments;
  }

  private async writeSegmentAsync(segment: Segment): Promise<void> {
    if (this.fd === null) {
      const fd = await openAsync(this.options.file);
      this.fd = fd;
      this.size = await sizeAsync(fd);
    }
    const data = segment.data.length === 1 ? segment.data[0]! : Buffer.concat(segment.data, segment.bytes);
    // A write the disk fills in the middle of is short; the rest then fails with ENOSPC.
    for (let at = 0; at < data.length;) {
      try {
        const written = await writeAsync(this.fd, data, at);
        at += written;
        this.size += written;
      } catch (error) {
        if (at > 0) this.midLine = data[at - 1] !== 10;
        throw error;
      }
    }
    this.wrote(segment);
  }

  private writeSegmentSync(segment: Segment): void {
    if (this.fd === null) {
      this.fd = openSync(this.options.file, "a", 0o640);
      this.size = fstatSync(this.fd).size;
    }
    const data = segment.data.length === 1 ? segment.data[0]! : Buffer.concat(segment.data, segment.bytes);
    for (let at = 0; at < data.length;) {
      try {
        const written = writeSync(this.fd, data, at);
        at += written;
        this.size += written;
      } catch (error) {
        if (at > 0) this.midLine = data[at - 1] !== 10;
        throw error;
      }
    }
    this.wrote(segment);
  }

  private wrote(segment: Segment): void {
    if (segment.bytes > 0) this.midLine = false;
    if (segment.marker) this.droppedSince = 0;
  }

  private async rotateAsync(): Promise<void> {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) await closeAsync(fd);
    const { file } = this.options;
    const keep = this.options.rotation.files;
    await rmAsync(`${file}.${keep - 1}`);
    for (let i = keep - 2; i >= 1; i--)
      await renameAsync(`${file}.${i}`, `${file}.${i + 1}`).catch((error: unknown) => {
        // Fewer rotated files than the rotation keeps is the usual case.
        if (!isErrno(error, "ENOENT")) throw error;
      });
    if (keep > 1) await renameAsync(file, `${file}.1`);
    else await rmAsync(file);
    this.fd = await openAsync(file);
    this.size = 0;
  }

  private rotateSync(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    const { file } = this.options;
    const keep = this.options.rotation.files;
    rmSync(`${file}.${keep - 1}`, { force: true });
    for (let i = keep - 2; i >= 1; i--)
      try {
        renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      } catch (error) {
        if (!isErrno(error, "ENOENT")) throw error;
      }
    if (keep > 1) renameSync(file, `${file}.1`);
    else rmSync(file, { force: true });
    this.fd = openSync(file, "a", 0o640);
    this.size = 0;
  }

  /**
   * Counts the lines of segments the file system refused, never throwing into
   * the pipe reader (which would take the orchestrator down); they are
   * reported once per episode, and the next write that works records how many were lost.
   */
  private lost(error: unknown, segments: Segment[]): void {
    const lines = segments.reduce((sum, s) => sum + s.lines, 0);
    if (this.droppedSince === 0) reportSurvivable("process.logs", "write log file", error, { path: this.options.file });
    this.droppedSince += lines;
    dropped.lines += lines;
    dropped.lastError = errnoCode(error) ?? (error instanceof Error ? error.message : String(error));
    // A descriptor that failed mid-rotation is reopened by the next write.
    if (this.fd !== null && isErrno(error, "EBADF")) this.fd = null;
  }

  /** The queue, written now: at a stop, or when the process exits with batches not yet written. */
  private writeQueuedSync(): void {
    if (this.queue.length === 0) return;
    const batches = this.queue;
    this.queue = [];
    try {
      if (this.fd === null) {
        this.fd = openSync(this.options.file, "a", 0o640);
        this.size = fstatSync(this.fd).size;
      }
      const segments = this.plan(batches);
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i]!;
        try {
          if (segment.rotateFirst) this.rotateSync();
          this.writeSegmentSync(segment);
        } catch (error) {
          this.lost(error, segments.slice(i));
          break;
        }
      }
    } catch (error) {
      this.lost(error, [{ rotateFirst: false, data: [], bytes: 0, lines: countLines(batches), marker: false }]);
    }
    LogFile.unwritten.delete(this);
    this.options.written(batches);
  }

  private closeDescriptor(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private static remember(file: LogFile): void {
    LogFile.unwritten.add(file);
    if (LogFile.exitHook) return;
    LogFile.exitHook = true;
    // A host that exits right after stopping (close() then process.exit()) keeps the lines read
    // but not yet written; only a write already in the pool's hands may land after them.
    process.on("exit", () => {
      for (const file of LogFile.unwritten) file.writeQueuedSync();
    });
  }
}

function countLines(batches: LogBatch[]): number {
  return batches.reduce((sum, b) => sum + b.lines, 0);
}

function markerBatch(text: string): LogBatch & { marker: true } {
  const time = new Date();
  const prefix = `${time.toISOString()} stderr `;
  return { stream: "stderr", time, bytes: Buffer.from(`${prefix}${text}\n`), lines: 1, prefix: Buffer.byteLength(prefix), marker: true };
}
