import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { ValidationError } from "../../src/contract/errors.js";
import type { SecretsReader } from "../../src/contract/types.js";
import { CachingSecretsReader, ProcessSecretsController, SecretNotFoundError } from "../../src/process/secrets.js";
import { TEMP_PREFIX } from "../../src/util/atomic-write.js";
import { withTempDir } from "../helpers.js";

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

async function assertPermissions(dir: string, id: string): Promise<void> {
  assert.equal((await modeOf(dir)).toString(8), "700", "secrets dir mode");
  assert.equal((await modeOf(join(dir, id))).toString(8), "600", `mode of secret ${id}`);
}

test("create makes the directory 0700 and narrows an existing one", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-secrets-", async (root) => {
    const fresh = join(root, "a", "secrets");
    await ProcessSecretsController.create(fresh);
    assert.equal(await modeOf(fresh), 0o700);

    const existing = join(root, "existing");
    await mkdir(existing, { mode: 0o755 });
    await chmod(existing, 0o755);
    const controller = await ProcessSecretsController.create(existing);
    assert.equal(await modeOf(existing), 0o700);
    assert.equal(controller.secretsDir, existing);
  });
});

test("ensure, read, readString, list and delete", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-secrets-", async (root) => {
    const dir = join(root, "secrets");
    const controller = await ProcessSecretsController.create(dir);
    await controller.ensure("db-password", new TextEncoder().encode("hunter2"));
    await controller.ensure("tls-key", Uint8Array.from([0, 255, 1, 254]));
    await assertPermissions(dir, "db-password");
    await assertPermissions(dir, "tls-key");

    const reader = controller.reader();
    assert.equal(await reader.readString("db-password"), "hunter2");
    assert.deepEqual([...(await reader.read("tls-key"))], [0, 255, 1, 254]);
    await assert.rejects(reader.readString("tls-key"), /not valid UTF-8/);
    assert.deepEqual(await controller.list(), ["db-password", "tls-key"]);

    // Overwrite with a different length, then an empty secret.
    await controller.ensure("db-password", new TextEncoder().encode("correct horse battery staple"));
    assert.equal(await reader.readString("db-password"), "correct horse battery staple");
    await controller.ensure("db-password", new Uint8Array(0));
    assert.equal((await reader.read("db-password")).length, 0);

    await controller.delete("db-password");
    assert.deepEqual(await controller.list(), ["tls-key"]);
    await assert.rejects(reader.read("db-password"), (error: unknown) => {
      assert.ok(error instanceof SecretNotFoundError);
      assert.equal(error.secretId, "db-password");
      assert.match(error.message, /unknown secret "db-password"/);
      return true;
    });
    await controller.delete("db-password"); // already gone: fine
    await controller.delete("never-existed");
    assert.deepEqual(await controller.list(), ["tls-key"]);
  });
});

test("permissions are enforced on every write: pre-existing 0644 file, directory chmod'ed to 0755", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-secrets-", async (root) => {
    const dir = join(root, "secrets");
    const controller = await ProcessSecretsController.create(dir);

    await writeFile(join(dir, "old"), "planted", { mode: 0o644 });
    await chmod(join(dir, "old"), 0o644);
    assert.equal(await modeOf(join(dir, "old")), 0o644);
    await controller.ensure("old", new TextEncoder().encode("new value"));
    await assertPermissions(dir, "old");
    assert.equal(await controller.reader().readString("old"), "new value");

    await chmod(dir, 0o755);
    await controller.ensure("other", new TextEncoder().encode("x"));
    await assertPermissions(dir, "other");

    // The directory removed behind the controller's back is recreated 0700.
    await rm(dir, { recursive: true });
    await controller.ensure("again", new TextEncoder().encode("y"));
    await assertPermissions(dir, "again");
  });
});

test("a controller built with the constructor creates the directory on first write", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-secrets-", async (root) => {
    const dir = join(root, "lazy");
    const controller = new ProcessSecretsController({ secretsDir: dir });
    assert.deepEqual(await controller.list(), []);
    await controller.ensure("s", new TextEncoder().encode("v"));
    await assertPermissions(dir, "s");
  });
});

test("bad ids are rejected and nothing is written", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-secrets-", async (root) => {
    const dir = join(root, "secrets");
    const controller = await ProcessSecretsController.create(dir);
    const bad = ["../x", "A", "", "a/b", ".", "..", ".tmp-x", "-a", "a-", "a_b", "x".repeat(64), "a\0b", "/etc/passwd"];
    for (const id of bad) {
      await assert.rejects(controller.ensure(id, new TextEncoder().encode("pwned")), ValidationError, `ensure(${JSON.stringify(id)})`);
      await assert.rejects(controller.delete(id), ValidationError, `delete(${JSON.stringify(id)})`);
      await assert.rejects(controller.reader().read(id), ValidationError, `read(${JSON.stringify(id)})`);
    }
    await assert.rejects(controller.ensure("ok", "not bytes" as unknown as Uint8Array), ValidationError);
    assert.deepEqual(await readdir(dir), []);
    assert.deepEqual(await readdir(root), ["secrets"]);
    // The longest valid id works.
    await controller.ensure("x".repeat(63), new Uint8Array([1]));
    assert.deepEqual(await controller.list(), ["x".repeat(63)]);
  });
});

test("list skips temp files, junk names and directories", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-secrets-", async (root) => {
    const dir = join(root, "secrets");
    const controller = await ProcessSecretsController.create(dir);
    await controller.ensure("real", new TextEncoder().encode("1"));
    await writeFile(join(dir, `${TEMP_PREFIX}real-123-abcd`), "half a secret");
    await writeFile(join(dir, "UPPER"), "junk");
    await writeFile(join(dir, "has.dot"), "junk");
    await writeFile(join(dir, ".hidden"), "junk");
    await writeFile(join(dir, "x".repeat(64)), "junk");
    await mkdir(join(dir, "subdir"));
    assert.deepEqual(await controller.list(), ["real"]);
  });
});

test("concurrent writers and readers only ever see one of the two values", { timeout: 120_000 }, async (t) => {
  await withTempDir(t, "corral-secrets-", async (root) => {
    const dir = join(root, "secrets");
    const controller = await ProcessSecretsController.create(dir);
    const size = 1024 * 1024;
    const a = randomBytes(size);
    const b = randomBytes(size);
    const id = "big";
    const writesPerWriter = 150;
    await controller.ensure(id, a);

    let writersDone = false;
    let reads = 0;
    let sawA = 0;
    let sawB = 0;
    const writer = async (value: Uint8Array, other: Uint8Array): Promise<void> => {
      for (let i = 0; i < writesPerWriter; i++) {
        // Alternate the two values within each writer too, so every write changes the file.
        await controller.ensure(id, i % 2 === 0 ? value : other);
        await assertPermissions(dir, id);
      }
    };
    const reader = async (): Promise<void> => {
      const r = controller.reader();
      // Reads continue until the writers finish, with a floor so readers overlap writes
      // even if the writers are quick, and a ceiling so the loop is bounded.
      for (let i = 0; (!writersDone || i < 20) && i < 100_000; i++) {
        const got = Buffer.from(await r.read(id));
        if (got.equals(a)) sawA++;
        else if (got.equals(b)) sawB++;
        else assert.fail(`read ${got.length} bytes that are neither value`);
        reads++;
      }
    };
    const readers = [reader(), reader(), reader()];
    try {
      await Promise.all([writer(a, b), writer(b, a)]);
    } finally {
      writersDone = true;
    }
    await Promise.all(readers);
    t.diagnostic(`${2 * writesPerWriter} writes of 1 MiB, ${reads} reads (${sawA} of A, ${sawB} of B)`);
    assert.ok(reads > 0);
    assert.deepEqual(await controller.list(), [id]);
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.startsWith(TEMP_PREFIX)),
      [],
      "no temp files left behind",
    );
  });
});

/** A SecretsReader that counts the reads reaching it, to observe the cache from the outside. */
class CountingReader implements SecretsReader {
  reads = 0;
  constructor(private readonly inner: SecretsReader) {}
  async read(id: string): Promise<Uint8Array> {
    this.reads++;
    return this.inner.read(id);
  }
  async readString(id: string): Promise<string> {
    return new TextDecoder().decode(await this.read(id));
  }
}

test("caching reader serves values within the TTL and rereads after it", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-secrets-", async (root) => {
    const controller = await ProcessSecretsController.create(join(root, "secrets"));
    const counting = new CountingReader(controller.reader());
    let now = 1_000;
    const cache = new CachingSecretsReader(counting, { ttlMs: 500, now: () => now });

    await controller.ensure("s", new TextEncoder().encode("v1"));
    assert.equal(await cache.readString("s"), "v1");
    assert.equal(counting.reads, 1);

    await controller.ensure("s", new TextEncoder().encode("v2"));
    now += 499;
    assert.equal(await cache.readString("s"), "v1", "still cached within the TTL");
    assert.equal(counting.reads, 1);

    now += 1; // exactly the TTL: expired
    assert.equal(await cache.readString("s"), "v2");
    assert.equal(counting.reads, 2);

    // A caller mutating what it got does not change the cache.
    const bytes = await cache.read("s");
    bytes.fill(0);
    assert.equal(await cache.readString("s"), "v2");

    // Deleted: served from the cache until the TTL passes, then a clear error.
    await controller.delete("s");
    assert.equal(await cache.readString("s"), "v2");
    now += 500;
    await assert.rejects(cache.read("s"), SecretNotFoundError);

    // Failures are not cached.
    await controller.ensure("s", new TextEncoder().encode("v3"));
    assert.equal(await cache.readString("s"), "v3");

    // invalidate() forces a reread.
    await controller.ensure("s", new TextEncoder().encode("v4"));
    assert.equal(await cache.readString("s"), "v3");
    cache.invalidate("s");
    assert.equal(await cache.readString("s"), "v4");
  });
});

test("caching reader shares one read between concurrent misses; ttl 0 disables caching", { timeout: 10_000 }, async (t) => {
  await withTempDir(t, "corral-secrets-", async (root) => {
    const controller = await ProcessSecretsController.create(join(root, "secrets"));
    await controller.ensure("s", new TextEncoder().encode("value"));

    const counting = new CountingReader(controller.reader());
    const cache = new CachingSecretsReader(counting, { ttlMs: 60_000 });
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.readString("s")));
    assert.deepEqual(new Set(values), new Set(["value"]));
    assert.equal(counting.reads, 1);

    const uncachedCounting = new CountingReader(controller.reader());
    const uncached = new CachingSecretsReader(uncachedCounting, { ttlMs: 0 });
    await uncached.read("s");
    await uncached.read("s");
    assert.equal(uncachedCounting.reads, 2);

    assert.throws(() => new CachingSecretsReader(counting, { ttlMs: -1 }), ValidationError);
    assert.throws(() => new CachingSecretsReader(counting, { ttlMs: Number.NaN }), ValidationError);
  });
});
