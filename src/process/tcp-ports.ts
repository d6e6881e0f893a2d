// The TCP proxy ports of every process, remembered in the state dir
// (`<stateDir>/tcp-ports.json`) so that a restarted orchestrator — a new
// daemon, or a new library instance on the same stateDir — listens where the
// previous one did: Prometheus `instance` labels and clients' addresses stay
// the same. Entries are kept when a service is dropped or scaled down, so
// it gets its ports back when it returns.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
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
  /** Writes one after the other, each of the whole map: the file always holds the latest. */
  #writing: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    this.#file = join(stateDir, TCP_PORTS_FILE);
  }

  async get(key: ProxyKey): Promise<number | undefined> {
    return (await this.#load()).get(keyOf(key));
  }

  /** Records where a proxy listens; written to the file only when that changed. */
  async remember(key: ProxyKey, port: number): Promise<void> {
    const ports = await this.#load();
    if (ports.get(keyOf(key)) === port) return;
    ports.set(keyOf(key), port);
    const text = `${JSON.stringify({ ports: Object.fromEntries([...ports].sort(([a], [b]) => (a < b ? -1 : 1))) }, null, 2)}\n`;
    const write = this.#writing.then(() => writeFileAtomic(this.#file, text, { mode: 0o600 }));
    this.#writing = write.catch(() => {}); // the failure is the caller's (below); the next write starts afresh
    await write;
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
