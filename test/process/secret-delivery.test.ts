// Secrets a service reads, on real processes and files: delivered as 0400
// files in a 0500 directory (CORRAL_SECRETS_DIR, assignments.secretsDirectory)
// and as variables, read at each launch, rolled when they change, never
// written anywhere else — not even as a bare hash.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ServiceConfig } from "../../src/contract/types.js";
import { secretsDirectory } from "../../src/process/run-dir.js";
import { writeSecretFiles } from "../../src/process/secret-files.js";
import { nextEvent, testEnvironment, until, untilAllOnline, withTempDir } from "../helpers.js";

const VALUE = "correct-horse-battery-staple";
const NEXT_VALUE = "tr0ub4dor-and-3";

/** A service that copies what it got of secret `db-password` to `<out>-<i>.file` and `.env`. */
function reporter(out: string, overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return {
    image: "secret-reporter",
    args: () => ["db-password", out],
    scale: 1,
    secrets: ["db-password"],
    secretEnv: { SECRET_VALUE: "db-password" },
    ...overrides,
  };
}

const read = (path: string) => until(() => existsSync(path) && readFileSync(path, "utf8"), path);

/** Every file under `dir`, except the directories where secrets are meant to be. */
function filesUnder(dir: string, skip: (path: string) => boolean): string[] {
  if (!existsSync(dir) || skip(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path, skip);
    return entry.isFile() && !skip(path) ? [path] : [];
  });
}

describe("secrets delivered to processes", { timeout: 120_000 }, () => {
  it("reach the process as 0400 files in a 0500 directory and as a variable; nothing else on disk holds them", async (t) => {
    const env = testEnvironment("secret-files");
    t.after(() => env.cleanup());
    const orchestrator = await env.create();
    await orchestrator.secretsController().ensure("db-password", new TextEncoder().encode(VALUE));
    const out = join(env.root, "out");
    let seenDir: string | undefined;
    const ns = orchestrator.namespace("default");
    const events = ns.watchServices();
    await ns.ensureService(
      "app",
      reporter(out, {
        args: (a) => {
          seenDir = a.secretsDirectory;
          return ["db-password", out];
        },
      }),
    );
    const [online] = await untilAllOnline(events, "app", 1);
    assert.equal(await read(`${out}-0.file`), VALUE, "the file's contents reach the process");
    assert.equal(await read(`${out}-0.env`), VALUE, "so does the variable");

    const dir = secretsDirectory(join(orchestrator.config.stateDir, "default-app"), 0);
    assert.equal(seenDir, dir, "the args function is told the directory");
    const environ = readFileSync(`/proc/${online!.pid}/environ`, "latin1").split("\0");
    assert.ok(environ.includes(`CORRAL_SECRETS_DIR=${dir}`), "and so is the process");
    const dirStat = statSync(dir);
    assert.equal(dirStat.mode & 0o777, 0o500, "only its owner may list the directory");
    assert.equal(dirStat.uid, process.getuid!(), "owned by the orchestrator's user where the service names none");
    const fileStat = statSync(join(dir, "db-password"));
    assert.equal(fileStat.mode & 0o777, 0o400, "only its owner may read the file");
    assert.equal(fileStat.uid, process.getuid!());
    assert.deepEqual(readdirSync(dir), ["db-password"], "one file per secret, nothing else");

    // The value and its bare SHA-256 (which a short password would not survive) appear nowhere else.
    const bareHash = createHash("sha256").update(VALUE).digest("hex");
    const elsewhere = filesUnder(env.root, (path) => path === dir || path === join(env.root, "secrets") || path.startsWith(out));
    assert.ok(elsewhere.some((path) => path.endsWith("0.pid")) && elsewhere.some((path) => path.endsWith("service.json")));
    for (const path of elsewhere) {
      const text = readFileSync(path, "latin1");
      assert.ok(!text.includes(VALUE), `${path} holds the value`);
      assert.ok(!text.includes(bareHash) && !text.includes(bareHash.slice(0, 32)), `${path} holds a bare hash of the value`);
    }
    assert.equal(statSync(join(orchestrator.config.stateDir, "secret-digest.key")).mode & 0o777, 0o600, "the digest's key is private");

    await ns.dropService("app");
    assert.ok(!existsSync(dir), "the files go with the service");
    events.return?.();
  });

  it("a changed secret rolls the processes on the next ensure; an unchanged one changes nothing", async (t) => {
    const env = testEnvironment("secret-roll");
    t.after(() => env.cleanup());
    const orchestrator = await env.create();
    const secrets = orchestrator.secretsController();
    await secrets.ensure("db-password", new TextEncoder().encode(VALUE));
    const out = join(env.root, "out");
    const ns = orchestrator.namespace("default");
    const events = ns.watchServices();
    const config = reporter(out, { scale: 2 });
    await ns.ensureService("app", config);
    const first = await untilAllOnline(events, "app", 2);
    for (const i of [0, 1]) assert.equal(await read(`${out}-${i}.env`), VALUE);

    await ns.ensureService("app", config);
    const again = ns.processStatuses()[0]!.processes.map((p) => p.pid);
    assert.deepEqual(
      again,
      first.map((e) => e.pid),
      "the same config and the same secret: nothing restarts",
    );

    await secrets.ensure("db-password", new TextEncoder().encode(NEXT_VALUE));
    await ns.ensureService("app", config);
    const rolled = ns.processStatuses()[0]!.processes;
    for (const [i, process] of rolled.entries()) {
      assert.equal(process.status, "online");
      assert.notEqual(process.pid, first[i]!.pid, `process ${i} was replaced`);
      await until(
        () => readFileSync(`${out}-${i}.file`, "utf8") === NEXT_VALUE && readFileSync(`${out}-${i}.env`, "utf8") === NEXT_VALUE,
        "the new value",
      );
    }
    events.return?.();
  });

  it("a secret that is not set is spawn-failed naming it; once it is set, the next ensure starts the process", async (t) => {
    const env = testEnvironment("secret-missing");
    t.after(() => env.cleanup());
    const orchestrator = await env.create({ restartBackoff: { initialMs: 60_000, maxMs: 60_000, jitter: 0 } });
    const out = join(env.root, "out");
    const ns = orchestrator.namespace("default");
    const events = ns.watchServices();
    await ns.ensureService("app", reporter(out));
    const failed = await nextEvent(events, (e) => e.serviceId === "app" && e.reason === "spawn-failed");
    assert.match(failed.message ?? "", /secret "db-password" is not set/);

    await orchestrator.secretsController().ensure("db-password", new TextEncoder().encode(VALUE));
    await ns.ensureService("app", reporter(out));
    await untilAllOnline(events, "app", 1);
    assert.equal(await read(`${out}-0.env`), VALUE);
    events.return?.();
  });

  it("a secret that cannot be a variable fails the spawn without quoting it", async (t) => {
    const env = testEnvironment("secret-binary");
    t.after(() => env.cleanup());
    const orchestrator = await env.create({ restartBackoff: { initialMs: 60_000, maxMs: 60_000, jitter: 0 } });
    await orchestrator.secretsController().ensure("db-password", new Uint8Array([...new TextEncoder().encode(VALUE), 0, 0xff]));
    const ns = orchestrator.namespace("default");
    const events = ns.watchServices();
    await ns.ensureService("app", reporter(join(env.root, "out")));
    const failed = await nextEvent(events, (e) => e.serviceId === "app" && e.reason === "spawn-failed");
    assert.match(failed.message ?? "", /secret "db-password" cannot be the variable SECRET_VALUE/);
    assert.ok(!failed.message!.includes(VALUE));
    events.return?.();
  });

  it("a new orchestrator on the same state dir adopts processes whose secrets did not change, and replaces those whose did", async (t) => {
    const env = testEnvironment("secret-adopt");
    t.after(() => env.cleanup());
    const out = join(env.root, "out");
    const first = await env.create();
    await first.secretsController().ensure("db-password", new TextEncoder().encode(VALUE));
    const config = reporter(out);
    const events = first.namespace("default").watchServices();
    await first.namespace("default").ensureService("app", config);
    const [before] = await untilAllOnline(events, "app", 1);
    events.return?.();
    await first.close({ leaveRunning: true });

    const second = await env.create();
    await second.namespace("default").ensureService("app", config);
    assert.equal(second.namespace("default").processStatuses()[0]!.processes[0]!.pid, before!.pid, "adopted: the same digest");
    await second.close({ leaveRunning: true });

    const third = await env.create();
    await third.secretsController().ensure("db-password", new TextEncoder().encode(NEXT_VALUE));
    // ensureService resolves once the replacement is online.
    await third.namespace("default").ensureService("app", config);
    const after = third.namespace("default").processStatuses()[0]!.processes[0]!;
    assert.equal(after.status, "online");
    assert.notEqual(after.pid, before!.pid, "replaced: the secret changed while no orchestrator ran");
    await until(() => readFileSync(`${out}-0.env`, "utf8") === NEXT_VALUE, "the new value");
  });

  it("writes the files for the service's user, who alone can read them", { skip: process.getuid?.() !== 0 && "needs root" }, async (t) => {
    await withTempDir(t, "corral-secret-files-", async (root) => {
      const dir = join(root, "0.secrets");
      mkdirSync(root, { recursive: true });
      const nobody = { uid: 65534, gid: 65534 };
      await writeSecretFiles(dir, new Map([["db-password", new TextEncoder().encode(VALUE)]]), nobody);
      for (const [path, mode] of [
        [dir, 0o500],
        [join(dir, "db-password"), 0o400],
      ] as const) {
        const stat = statSync(path);
        assert.equal(stat.mode & 0o777, mode, path);
        assert.deepEqual([stat.uid, stat.gid], [nobody.uid, nobody.gid], `${path} is the user's`);
      }
      // Written again (the next launch): the old directory is replaced, not merged into.
      await writeSecretFiles(dir, new Map([["other", new TextEncoder().encode(NEXT_VALUE)]]), nobody);
      assert.deepEqual(readdirSync(dir), ["other"]);
    });
  });
});
