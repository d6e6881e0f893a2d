// Where the process backend's services get their secrets: the orchestrator's
// own secrets directory, read at each launch, and a keyed digest of what was
// read. The digest goes into the launch spec, so a changed secret is a changed
// process (rolled like any other change), while neither the value nor a bare
// hash of it ever reaches a file: the spec's hash is in every PID record, and
// a plain SHA-256 of a short password is found by guessing. Under a key only
// the orchestrator's user can read, the digest says nothing about the value.
import { createHmac, randomBytes } from "node:crypto";
import { link, readFile, unlink, writeFile } from "node:fs/promises";
import { SecretNotFoundError } from "../contract/errors.js";
import type { SecretsReader } from "../contract/types.js";
import { tempPathFor } from "../util/atomic-write.js";
import { survive } from "../util/diagnostics.js";
import { isErrno } from "../util/errno.js";

/** `<stateDir>/secret-digest.key`: kept with the PID records it keys, so a later instance computes the same digests. */
export const DIGEST_KEY_FILE = "secret-digest.key";
const KEY_BYTES = 32;

export class SecretSource {
  #key: Promise<Buffer> | undefined;

  constructor(
    private readonly reader: SecretsReader,
    /** The digest key's file (created 0600 on first use). */
    private readonly keyFile: string,
  ) {}

  /** Each id's contents, or null where the secret is not set. */
  async read(ids: readonly string[]): Promise<Map<string, Uint8Array | null>> {
    const entries = await Promise.all(
      ids.map(async (id): Promise<[string, Uint8Array | null]> => {
        try {
          return [id, await this.reader.read(id)];
        } catch (error) {
          if (error instanceof SecretNotFoundError) return [id, null];
          throw error;
        }
      }),
    );
    return new Map(entries);
  }

  /** HMAC-SHA256 over each id and its contents (or their absence), in id order. */
  async digest(values: ReadonlyMap<string, Uint8Array | null>): Promise<string> {
    const hmac = createHmac("sha256", await this.#loadKey());
    for (const id of [...values.keys()].sort()) {
      const value = values.get(id);
      // Ids hold no NUL and a length ends at ":", so no two inputs frame the same bytes.
      hmac.update(`${id}\0`);
      if (value === null || value === undefined) hmac.update("-\0");
      else hmac.update(`${value.byteLength}:`).update(value);
    }
    return hmac.digest("hex");
  }

  #loadKey(): Promise<Buffer> {
    this.#key ??= loadOrCreateKey(this.keyFile);
    return this.#key;
  }
}

async function loadOrCreateKey(path: string): Promise<Buffer> {
  const existing = await readKey(path);
  if (existing) return existing;
  // Written aside and linked into place: link() fails when another instance got there first, whose key then wins.
  const temp = tempPathFor(path);
  await writeFile(temp, randomBytes(KEY_BYTES), { mode: 0o600, flag: "wx" });
  try {
    await link(temp, path);
  } catch (error) {
    if (!isErrno(error, "EEXIST")) throw error;
  } finally {
    await unlink(temp).catch(survive("process.secrets", "remove temp key file", { path: temp }));
  }
  const key = await readKey(path);
  if (!key) throw new Error(`${path}: the secret digest key is not ${KEY_BYTES} bytes; remove the file to make a new one`);
  return key;
}

async function readKey(path: string): Promise<Buffer | null> {
  try {
    const key = await readFile(path);
    return key.length === KEY_BYTES ? key : null;
  } catch (error) {
    if (isErrno(error, "ENOENT")) return null;
    throw error;
  }
}
