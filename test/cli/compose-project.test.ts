// A shared project file through the real `corral` binary and daemon:
// variables from the calling shell and .env (a second `up` with a changed
// variable rolls only the service that uses it, though the daemon was started
// by the first `up` with the old value), corral.override.yaml, profiles,
// `up <service>` with its dependencies, and `corral config` whose output `up`
// loads to the same desired state. Processes are checked in /proc.
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DaemonClient } from "../../src/cli/client.js";
import { desiredStateSchema } from "../../src/config/desired-state.js";
import { isPidAlive } from "../helpers.js";
import { ROOT, realProject, type RealProject } from "./project.js";

const BIN = join(ROOT, "bin", "corral.js");

function corralWith(p: RealProject, args: string[], env: Record<string, string> = {}, cwd = p.dir): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "", CORRAL_PROFILES: "", ...env },
  });
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  assert.equal(result.status, 0, `${what}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** Pids by service, of online processes. */
function pids(p: RealProject): Map<string, number[]> {
  const byService = new Map<string, number[]>();
  for (const row of p.ps()) if (row.pid !== null) byService.set(row.service, [...(byService.get(row.service) ?? []), row.pid]);
  return byService;
}

const SLEEP = "    command: /bin/sleep\n    args: ['${NAP:-1000}']\n";

describe("a project file under the real daemon", { timeout: 600_000 }, () => {
  it("a changed variable in the calling shell rolls only the service that uses it", async (t) => {
    const p = realProject("corral-interp-");
    t.after(() => p.cleanup());
    writeFileSync(join(p.dir, ".env"), "GREETING=from-dotenv\n");
    writeFileSync(
      join(p.dir, "corral.yaml"),
      [
        "services:",
        "  web:",
        "    command: /bin/sleep",
        "    args: ['1000']",
        "    env:",
        "      GREETING: ${GREETING}",
        "      MODE: ${MODE:-dev}",
        "  worker:",
        "    command: /bin/sleep",
        "    args: ['1000']",
        "    env:",
        "      PRICE: cost $$5",
        "",
      ].join("\n"),
    );
    // The first up starts the daemon, with MODE=one in its environment.
    ok(corralWith(p, ["up", "-d"], { MODE: "one" }), "first up");
    const before = pids(p);
    const client = new DaemonClient({ socketPath: p.paths.socket });
    const first = await client.get("/v1/state", desiredStateSchema);
    assert.deepEqual(first.services.web!.env, { GREETING: "from-dotenv", MODE: "one" });
    assert.deepEqual(first.services.worker!.env, { PRICE: "cost $5" });

    // The same daemon; the second up's shell says MODE=two and GREETING overrides .env.
    const second = ok(corralWith(p, ["up", "-d"], { MODE: "two", GREETING: "from-shell" }), "second up");
    assert.match(second, /updated web; unchanged worker/);
    const after = pids(p);
    assert.deepEqual(after.get("worker"), before.get("worker"), "worker kept its process");
    assert.ok(before.get("worker")!.every(isPidAlive));
    assert.notDeepEqual(after.get("web"), before.get("web"), "web was replaced");
    assert.ok(!before.get("web")!.some(isPidAlive), "web's old process is gone from /proc");
    assert.ok(after.get("web")!.every(isPidAlive));
    const state = await client.get("/v1/state", desiredStateSchema);
    assert.deepEqual(state.services.web!.env, { GREETING: "from-shell", MODE: "two" });

    // An unset variable without default: an error at its position, nothing changed.
    writeFileSync(join(p.dir, ".env"), "");
    const bad = corralWith(p, ["up", "-d"]);
    assert.equal(bad.status, 2);
    assert.equal(
      bad.stderr,
      "corral: corral.yaml:6:17: services.web.env.GREETING: variable GREETING is not set (set it in the environment or .env, or give a default: ${GREETING:-value})\n",
    );
    assert.deepEqual(pids(p), after);
  });

  it("an override file, profiles and up <service> start what they say, found from a subfolder", async (t) => {
    const p = realProject("corral-profiles-");
    t.after(() => p.cleanup());
    writeFileSync(
      join(p.dir, "corral.yaml"),
      `services:\n  db:\n${SLEEP}  web:\n${SLEEP}    dependsOn: [db]\n  worker:\n${SLEEP}  debugger:\n${SLEEP}    profiles: [debug]\n  legacy:\n${SLEEP}    disabled: true\n`,
    );
    writeFileSync(join(p.dir, "corral.override.yaml"), "services:\n  worker:\n    scale: 2\n    env: { ROLE: override }\n");
    mkdirSync(join(p.dir, "src", "deep"), { recursive: true });
    const sub = join(p.dir, "src", "deep");

    // `up web` from a subfolder: web and db only (the project and its .corral are the parent's).
    ok(corralWith(p, ["up", "-d", "web"], {}, sub), "up web");
    assert.deepEqual([...pids(p).keys()].sort(), ["db", "web"]);
    const dbPid = pids(p).get("db");

    // The whole file: the override's scale and env; no debugger, no legacy; db untouched.
    ok(corralWith(p, ["up", "-d"], {}, sub), "up");
    let running = pids(p);
    assert.deepEqual([...running.keys()].sort(), ["db", "web", "worker"]);
    assert.equal(running.get("worker")!.length, 2);
    assert.deepEqual(running.get("db"), dbPid);
    const client = new DaemonClient({ socketPath: p.paths.socket });
    assert.deepEqual((await client.get("/v1/state", desiredStateSchema)).services.worker!.env, { ROLE: "override" });

    // The profile: only with --profile (or CORRAL_PROFILES).
    ok(corralWith(p, ["up", "-d", "--profile", "debug"]), "up --profile debug");
    running = pids(p);
    assert.deepEqual([...running.keys()].sort(), ["db", "debugger", "web", "worker"]);
    assert.ok(running.get("debugger")!.every(isPidAlive));
    ok(corralWith(p, ["up", "-d"]), "up without the profile");
    assert.ok(!pids(p).has("debugger"), "debugger is dropped without its profile");
    ok(corralWith(p, ["up", "-d"], { CORRAL_PROFILES: "debug" }), "up with CORRAL_PROFILES");
    assert.ok(pids(p).has("debugger"));
  });

  it("corral config prints the resolved file, and up of that output changes nothing", async (t) => {
    const p = realProject("corral-config-");
    t.after(() => p.cleanup());
    writeFileSync(join(p.dir, ".env"), "NAP=900\n");
    writeFileSync(
      join(p.dir, "corral.yaml"),
      `services:\n  base:\n${SLEEP}    disabled: true\n    env:\n      COST: $$5\n  web:\n    extends: base\n    ports: [http]\n  tool:\n${SLEEP}    profiles: [tools]\n`,
    );
    writeFileSync(join(p.dir, "corral.override.yaml"), "services:\n  web:\n    scale: 2\n");
    ok(corralWith(p, ["up", "-d"]), "up");
    const client = new DaemonClient({ socketPath: p.paths.socket });
    const applied = await client.get("/v1/state", desiredStateSchema);
    const printed = ok(corralWith(p, ["config"]), "config");
    assert.match(printed, /COST: \$\$5/);
    assert.match(printed, /- "900"/);
    assert.doesNotMatch(printed, /tool|base|disabled|extends/);
    writeFileSync(join(p.dir, "resolved.yaml"), printed);
    // Another NAP in the shell changes nothing: the resolved file has no variables left.
    assert.match(ok(corralWith(p, ["up", "-d", "-f", "resolved.yaml"], { NAP: "1" }), "up -f resolved.yaml"), /unchanged web$/m);
    assert.deepEqual(await client.get("/v1/state", desiredStateSchema), applied);

    assert.equal(ok(corralWith(p, ["config", "--services", "--profile", "tools"]), "config --services"), "web\ntool\n");
    const json = JSON.parse(ok(corralWith(p, ["config", "--json"]), "config --json")) as { services: Record<string, { scale: number }> };
    assert.equal(json.services.web!.scale, 2);
    const why = ok(corralWith(p, ["config", "--why", "services.web"]), "config --why");
    assert.match(why, /^services\.web\.scale\s+2\s+corral\.override\.yaml:3:12$/m);
    assert.match(why, /^services\.web\.args\[0\]\s+"900"\s+corral\.yaml:4:12 \(\$NAP from \.env\)$/m);
    assert.match(why, /^services\.web\.env\.COST\s+"\$5"\s+corral\.yaml:7:13$/m);
  });

  it("up with no corral.yaml here or above says how to name one", (t) => {
    const p = realProject("corral-nofile-");
    t.after(() => p.cleanup());
    const result = corralWith(p, ["up", "-d"]);
    assert.equal(result.status, 2);
    assert.match(
      result.stderr,
      /^corral: no corral\.yaml in .* or any folder above it: run corral in the project's folder, or name the file with -f <path>\n$/,
    );
  });
});
