// A project folder for tests that run real servers under the real `corral`
// binary and daemon. The folder is traversable by everyone (a service run as
// another user must reach its state dir below it); cleanup stops the daemon,
// kills every process of the environment by PID and removes the folder, files
// owned by the services' users included, even when a test fails.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, openSync, closeSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DaemonClient } from "../../src/cli/client.js";
import { loadConfigFile } from "../../src/config/load.js";
import { sanitizeId } from "../../src/server/daemon.js";
import { z } from "../../src/util/zod.js";
import { statePaths } from "../../src/server/state-dir.js";
import { processRowBody } from "../../src/server/wire.js";
import { applyResultBody } from "../../src/server/wire-state.js";
import { killEnvironment, processesOfEnvironment, until } from "../helpers.js";

// What `corral ps --json` prints per process (12c adds tcpAddresses; extra fields are fine).
const psRow = processRowBody.pick({ service: true, process: true, status: true, reason: true, pid: true, addresses: true });
export type PsRow = z.output<typeof psRow>;

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "bin", "corral.js");

export interface RealProject {
  dir: string;
  environment: string;
  paths: ReturnType<typeof statePaths>;
  corral(args: string[], timeoutMs?: number): SpawnSyncReturns<string>;
  /** Starts `corral daemon` for the project and resolves once its API answers. */
  startDaemon(): Promise<DaemonClient>;
  /** POST /v1/apply of the project's corral.yaml: what `corral up -d` sends, resolved once the apply (dependencies included) is done. */
  apply(): Promise<void>;
  /** `corral ps --json`. */
  ps(): PsRow[];
  /** Polls `corral ps --json` until `predicate` holds for the rows (bounded: 60 s). */
  waitForRows(what: string, predicate: (rows: PsRow[]) => boolean): Promise<PsRow[]>;
  processes(): number[];
  cleanup(): Promise<void>;
}

export function realProject(prefix: string): RealProject {
  assert.ok(existsSync(join(ROOT, "dist", "cli", "main.js")), "npm run build first (npm test does)");
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  chmodSync(dir, 0o755);
  const environment = sanitizeId(basename(dir));
  const paths = statePaths(join(dir, ".corral"));
  let daemon: ChildProcess | undefined;
  const client = new DaemonClient({ socketPath: paths.socket });

  const corral = (args: string[], timeoutMs = 120_000): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [BIN, ...args], {
      cwd: dir,
      encoding: "utf8",
      timeout: timeoutMs,
      env: { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" },
    });

  const ps = (): PsRow[] => {
    const result = corral(["ps", "--json"]);
    assert.equal(result.status, 0, result.stderr);
    return psRow.array().parse(JSON.parse(result.stdout));
  };

  return {
    dir,
    environment,
    paths,
    corral,
    async startDaemon() {
      const log = openSync(join(dir, "daemon.out"), "a");
      daemon = spawn(process.execPath, [BIN, "daemon", "--state-dir", paths.root], { cwd: dir, stdio: ["ignore", log, log] });
      closeSync(log);
      const started = daemon;
      let exited = false;
      started.once("exit", () => (exited = true));
      for (let i = 0; i < 600 && !(await client.alive()); i++) {
        assert.ok(!exited, `the daemon exited at start:\n${readFileSync(join(dir, "daemon.out"), "utf8")}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(await client.alive(), "the daemon answers");
      return client;
    },
    async apply() {
      const state = await loadConfigFile(join(dir, "corral.yaml"));
      await client.post("/v1/apply", state, applyResultBody);
    },
    ps,
    async waitForRows(what, predicate) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const rows = ps();
        if (predicate(rows)) return rows;
        if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; rows: ${JSON.stringify(rows)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    processes: () => processesOfEnvironment(environment),
    async cleanup() {
      if (existsSync(paths.socket)) corral(["down"]);
      if (daemon && daemon.exitCode === null && daemon.signalCode === null) daemon.kill("SIGKILL");
      killEnvironment(environment);
      await until(() => processesOfEnvironment(environment).length === 0, "every process of the project to be gone").catch(() => {
        // Reported by the test's own assertions; the folder goes regardless.
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
