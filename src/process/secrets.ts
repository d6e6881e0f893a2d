import { chmod, mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { SecretNotFoundError, ValidationError } from "../contract/errors.js";
import type { SecretsController, SecretsReader } from "../contract/types.js";
import { ID_MAX_LENGTH, ID_PATTERN, validateId } from "../contract/validation.js";
import { syncDirectory, TEMP_PREFIX, writeFileAtomic } from "../util/atomic-write.js";
import { isErrno } from "../util/errno.js";
import { unlinkIfPresent } from "../util/unlink.js";

/** Only the orchestrator's user may list, read or write secrets. */
export const SECRETS_DIR_MODE = 0o700;
export const SECRET_FILE_MODE = 0o600;

// Defined once for every backend; exported here too, where it was first defined.
export { SecretNotFoundError };

export interface ProcessSecretsControllerOptions {
  /** Directory holding one file per secret, named by the secret's id. */
  secretsDir: string;
  /** fsync each secret and the directory after a write or delete. Default true; tests may turn it off for speed. */
  durable?: boolean;
}

/**
 * Secrets of the process backend: one file per secret in a directory only the
 * orchestrator's user can enter. Ids are DNS labels, so an id can never name a
 * path outside the directory, a temp file or a dotfile.
 */
export class ProcessSecretsController implements SecretsController {
  readonly secretsDir: string;
  readonly #durable: boolean;
  readonly #reader: SecretsReader;

  constructor(options: ProcessSecretsControllerOptions) {
    if (typeof options.secretsDir !== "string" || options.secretsDir === "") {
      throw new ValidationError("secretsDir", "must be a non-empty path", options.secretsDir);
    }
    this.secretsDir = options.secretsDir;
    this.#durable = options.durable ?? true;
    this.#reader = new FileSecretsReader(this.secretsDir);
  }

  /** Creates the directory (mode 0700, also narrowing an existing one) and returns a controller for it. */
  static async create(dir: string | ProcessSecretsControllerOptions): Promise<ProcessSecretsController> {
    const controller = new ProcessSecretsController(typeof dir === "string" ? { secretsDir: dir } : dir);
    await controller.#prepareDirectory();
    return controller;
  }

  async ensure(id: string, contents: Uint8Array): Promise<void> {
    validateId("secret id", id);
    if (!(contents instanceof Uint8Array)) throw new ValidationError("contents", "must be a Uint8Array", contents);
    // Re-asserted on every write: someone may have chmod'ed the directory since start.
    await this.#prepareDirectory();
    // A new file created 0600 and renamed over the old one: a pre-existing file with a
    // wider mode is replaced, not reused, and readers see the old or the new value only.
    await writeFileAtomic(secretPath(this.secretsDir, id), contents, { mode: SECRET_FILE_MODE, durable: this.#durable });
  }

  async delete(id: string): Promise<void> {
    validateId("secret id", id);
    if ((await unlinkIfPresent(secretPath(this.secretsDir, id))) && this.#durable) await syncDirectory(this.secretsDir);
  }

  async list(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.secretsDir, { withFileTypes: true });
    } catch (error) {
      if (isErrno(error, "ENOENT")) return [];
      throw error;
    }
    return entries
      .filter((entry) => entry.isFile() && isSecretFileName(entry.name))
      .map((entry) => entry.name)
      .sort();
  }

  reader(): SecretsReader {
    return this.#reader;
  }

  async #prepareDirectory(): Promise<void> {
    await mkdir(this.secretsDir, { recursive: true, mode: SECRETS_DIR_MODE });
    await chmod(this.secretsDir, SECRETS_DIR_MODE);
  }
}

/** Reads secrets straight from the directory of a ProcessSecretsController. */
export class FileSecretsReader implements SecretsReader {
  constructor(readonly secretsDir: string) {}

  async read(id: string): Promise<Uint8Array> {
    validateId("secret id", id);
    try {
      return await readFile(secretPath(this.secretsDir, id));
    } catch (error) {
      if (isErrno(error, "ENOENT")) throw new SecretNotFoundError(id);
      throw error;
    }
  }

  async readString(id: string): Promise<string> {
    return decodeSecret(id, await this.read(id));
  }
}

export interface CachingSecretsReaderOptions {
  /** How long a value read from the wrapped reader is served from memory. 0 disables caching. */
  ttlMs: number;
  /** Clock in milliseconds, monotonic by default. */
  now?: () => number;
}

interface CacheEntry {
  readAt: number;
  value: Uint8Array;
}

/**
 * Serves each secret from memory for `ttlMs` after reading it, as Materialize's
 * CachingSecretsReader does, so hot paths do not hit the disk (or the Kubernetes
 * API) on every read. A change or delete becomes visible at most `ttlMs` later.
 * Failed reads are not cached, and concurrent misses for one id share one read.
 */
export class CachingSecretsReader implements SecretsReader {
  readonly #inner: SecretsReader;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<Uint8Array>>();
  #generation = 0;

  constructor(inner: SecretsReader, options: CachingSecretsReaderOptions) {
    if (!Number.isFinite(options.ttlMs) || options.ttlMs < 0) {
      throw new ValidationError("ttlMs", "must be a finite number >= 0", options.ttlMs);
    }
    this.#inner = inner;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? (() => performance.now());
  }

  async read(id: string): Promise<Uint8Array> {
    if (this.#ttlMs === 0) return this.#inner.read(id);
    const now = this.#now();
    const cached = this.#cache.get(id);
    if (cached !== undefined) {
      if (now - cached.readAt < this.#ttlMs) return new Uint8Array(cached.value);
      this.#cache.delete(id);
    }
    let pending = this.#inFlight.get(id);
    if (pending === undefined) {
      const generation = this.#generation;
      const read = this.#inner.read(id).then((value) => {
        // Copied so a caller mutating what the inner reader returned cannot change the cache;
        // not stored if invalidate() ran meanwhile, as the value may predate what it dropped.
        if (generation === this.#generation) this.#cache.set(id, { readAt: now, value: new Uint8Array(value) });
        return value;
      });
      pending = read;
      this.#inFlight.set(id, read);
      const forget = (): void => {
        if (this.#inFlight.get(id) === read) this.#inFlight.delete(id);
      };
      read.then(forget, forget);
    }
    // Each caller gets its own copy: concurrent callers share one read.
    return new Uint8Array(await pending);
  }

  async readString(id: string): Promise<string> {
    return decodeSecret(id, await this.read(id));
  }

  /** Drops one cached secret, or all of them; the next read goes to the wrapped reader. */
  invalidate(id?: string): void {
    this.#generation++;
    if (id === undefined) {
      this.#cache.clear();
      this.#inFlight.clear();
    } else {
      this.#cache.delete(id);
      this.#inFlight.delete(id);
    }
  }
}

export function secretPath(secretsDir: string, id: string): string {
  return join(secretsDir, id);
}

function isSecretFileName(name: string): boolean {
  return !name.startsWith(TEMP_PREFIX) && name.length <= ID_MAX_LENGTH && ID_PATTERN.test(name);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeSecret(id: string, bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Error(`secret ${JSON.stringify(id)} is not valid UTF-8; read it with read() instead of readString()`);
  }
}
