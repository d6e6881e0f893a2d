// The TCP proxy ports of every process, remembered in the state dir
// (`<stateDir>/tcp-ports.json`) so that a restarted orchestrator — a new
// daemon, or a new library instance on the same stateDir — listens where the
// previous one did: Prometheus `instance` labels and clients' addresses stay
// the same. Entries are kept when a service is dropped or scaled down, so
// it gets its ports back when it returns.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "../util/zod.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { reportSurvivable } from "../util/diagnostics.js";
import { isErrno } from "../util/errno.js";
import { parseJsonRecord } from "../util/json-record.js";

export const TCP_PORTS_FILE = "tcp-ports.json";

const portsSchema = z.object({ ports: z.record(z.string(), z.number().int().min(1).max(65535)) });

/** One proxy: which namespace, service, process and port it is for. */
export interface ProxyKey {
  namespace: string;
  serviceId: string;
  processIndex: number;
  port: string;
}

export class RememberedPorts {
  readonly #file: string;
  #ports: Promise<Map<string, number>> | undefined;
  /** A write not started yet: it will hold every change made before it starts, so changes made meanwhile share it. */
  #pending: Promise<void> | undefined;
  #lastWrite: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    this.#file = join(stateDir, TCP_PORTS_FILE);
  }

  async get(key: ProxyKey): Promise<number | undefined> {
    return (await this.#load()).get(keyOf(key));
  }

  /**
   * Records where a proxy listens; resolves once the file holds it. The
   * proxies of hundreds of processes starting at once share a write or two.
   */
  async remember(key: ProxyKey, port: number): Promise<void> {
    const ports = await this.#load();
    if (ports.get(keyOf(key)) === port) return;
    ports.set(keyOf(key), port);
    await this.#scheduleWrite(ports);
  }

  #scheduleWrite(ports: Map<string, number>): Promise<void> {
    if (this.#pending) return this.#pending;
    const write = this.#lastWrite.then(async () => {
      this.#pending = undefined; // a change from now on needs the next write
      const sorted = Object.fromEntries([...ports].sort(([a], [b]) => (a < b ? -1 : 1)));
      // Not fsynced: a record lost to a power cut only costs new ports, and fsyncs would slow every start.
      await writeFileAtomic(this.#file, `${JSON.stringify({ ports: sorted }, null, 2)}\n`, { mode: 0o600, durable: false });
    });
    this.#pending = write;
    this.#lastWrite = write.catch(() => {}); // the failure is reported to this write's callers; the next one starts afresh
    return write;
  }

  #load(): Promise<Map<string, number>> {
    this.#ports ??= (async () => {
      let text: string;
      try {
        text = await readFile(this.#file, "utf8");
      } catch (error) {
        if (!isErrno(error, "ENOENT")) reportSurvivable("process.tcp-ports", "read", error, { path: this.#file });
        return new Map<string, number>();
      }
      const record = parseJsonRecord(text, portsSchema);
      if (!record) reportSurvivable("process.tcp-ports", "parse", new Error("not a ports record; starting afresh"), { path: this.#file });
      return new Map(Object.entries(record?.ports ?? {}));
    })();
    return this.#ports;
  }
}

function keyOf({ namespace, serviceId, processIndex, port }: ProxyKey): string {
  return `${namespace}/${serviceId}/${processIndex}/${port}`;
}
