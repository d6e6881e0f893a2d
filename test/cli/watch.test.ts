// `watch:` under a real foreground `corral up`: editing a watched file replaces
// a 2-process service through the rolling restart, with at least one process
// ready at every moment (followed on the daemon's event stream while it
// happens); sync-restart copies the change first; a service that writes into
// its own watched tree is caught as a restart loop.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DaemonClient } from "../../src/cli/client.js";
import { followEvents } from "../../src/cli/up-events.js";
import type { ServiceEvent } from "../../src/contract/types.js";
import { IMAGES, until } from "../helpers.js";
import { ROOT, realProject } from "./project.js";

const BIN = join(ROOT, "bin", "corral.js");

describe("corral up: watch", () => {
  const project = realProject("corral-watch-");
  let up: ChildProcess | undefined;
  let out = "";
  after(async () => {
    if (up && up.exitCode === null && up.signalCode === null) {
      up.kill("SIGINT");
      await once(up, "exit");
    }
    await project.cleanup();
  });

  it("a change restarts a 2-process service rolling, never below one ready; sync-restart copies; a self-restarting service is reported", async () => {
    const { dir } = project;
    for (const sub of ["src", "assets", "served", "gen"]) mkdirSync(join(dir, sub));
    writeFileSync(join(dir, "src", "app.txt"), "v1\n");
    writeFileSync(
      join(dir, "corral.yaml"),
      `environment: ${project.environment}
services:
  web:
    command: ${join(IMAGES, "server.mjs")}
    args: ["%P:http", "%I"]
    ports: [http]
    scale: 2
    readiness: { socket: http, periodMs: 50 }
    watch:
      - path: src
        action: restart
        exclude: ["*.tmp"]
        debounceMs: 100
  sync:
    command: /bin/sleep
    args: ["100000"]
    watch:
      - { path: assets, action: sync-restart, target: served, debounceMs: 100 }
  loop:
    command: /bin/sh
    args: ["-c", "date +%s%N > gen/stamp; exec sleep 100000"]
    watch:
      - { path: gen, action: restart, debounceMs: 100 }
`,
    );
    up = spawn(process.execPath, [BIN, "up"], { cwd: dir, env: { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" } });
    up.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    up.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    await until(() => out.includes("watching for file changes") || up!.exitCode !== null, "up to watch", 120_000);
    assert.match(out, /watching for file changes/, out);

    // Follow web's processes on the daemon's own event stream while the change rolls through.
    const client = new DaemonClient({ socketPath: project.paths.socket });
    const controller = new AbortController();
    const status = new Map<number, ServiceEvent>();
    let minReady = Infinity;
    let snapshotDone = false;
    const following = followEvents(client, controller.signal, {
      onEvent: (event) => {
        if (event.serviceId !== "web" || event.hook || event.warning) return;
        status.set(event.processId, event);
        if (snapshotDone) minReady = Math.min(minReady, [...status.values()].filter((e) => e.status === "online").length);
      },
      onSnapshotEnd: () => (snapshotDone = true),
    });
    await until(() => snapshotDone, "the event snapshot");
    const before = [...status.values()].map((e) => e.pid);
    assert.equal(before.length, 2);
    assert.ok([...status.values()].every((e) => e.status === "online"));

    writeFileSync(join(dir, "src", "ignored.tmp"), "excluded\n");
    writeFileSync(join(dir, "src", "app.txt"), "v2\n");
    await until(() => /watch: web: restarted/.test(out), "web to be restarted", 120_000);
    controller.abort();
    await following;
    const afterPids = [...status.values()].map((e) => e.pid);
    assert.ok(
      afterPids.every((pid) => pid !== undefined && !before.includes(pid)),
      `both processes replaced: ${before} -> ${afterPids}`,
    );
    assert.ok(minReady >= 1, `never fewer than one ready process during the restart (min ${minReady})`);
    assert.equal(
      out.match(/watch: web: .* changed; restarting/g)?.length,
      1,
      `one restart for the change, none for the excluded file:\n${out}`,
    );
    assert.match(out, /watch: web: src\/app\.txt changed; restarting/);

    writeFileSync(join(dir, "assets", "style.css"), "body{}\n");
    await until(() => /watch: sync: restarted/.test(out), "sync to be restarted", 120_000);
    assert.equal(readFileSync(join(dir, "served", "style.css"), "utf8"), "body{}\n", "sync-restart copied the file to target first");

    writeFileSync(join(dir, "gen", "poke"), "1\n");
    await until(() => /watch: loop: restart loop/.test(out), "the restart loop to be reported", 120_000);
    assert.match(out, /gen\/stamp/, "the report names the file the service writes");
    assert.ok(existsSync(join(dir, "gen", "stamp")));

    up.kill("SIGINT");
    await once(up, "exit");
  });
});
