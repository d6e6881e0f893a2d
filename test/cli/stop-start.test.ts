// `corral stop` / `corral start` / `scale web=0` with the real binary and daemon:
// the processes are gone from /proc and come back, the service stays in the
// desired state and in `corral ps` as stopped, across a daemon restart, and
// `corral up` of the unchanged file starts it again (as compose's up does).
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DaemonClient } from "../../src/cli/client.js";
import { desiredStateSchema } from "../../src/config/desired-state.js";
import { applyResultBody, serviceBody } from "../../src/server/wire-state.js";
import { IMAGES, isPidAlive, until } from "../helpers.js";
import { type PsRow, type RealProject, realProject } from "./project.js";

const SLEEPER = join(IMAGES, "sleeper");

function withProject(t: { after(fn: () => Promise<void>): void }, services: string): RealProject {
  const project = realProject("corral-stopstart-");
  t.after(() => project.cleanup());
  writeFileSync(join(project.dir, "corral.yaml"), `environment: ${project.environment}\nservices:\n${services}`);
  return project;
}

const ok = (project: RealProject, args: string[]) => {
  const result = project.corral(args);
  assert.equal(result.status, 0, `corral ${args.join(" ")}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
};

const brief = (rows: PsRow[]) => rows.map((r) => `${r.service}-${r.process}:${r.status}${r.reason ? `(${r.reason})` : ""}`);
const pidsOf = (rows: PsRow[], service: string) => rows.filter((r) => r.service === service).map((r) => r.pid!);

describe("corral stop and start", { timeout: 240_000 }, () => {
  it("stop ends the processes and keeps the service (ps: stopped, across a daemon restart); start and up bring it back", async (t) => {
    const project = withProject(
      t,
      `  db:
    command: ${SLEEPER}
  web:
    command: ${SLEEPER}
    scale: 2
    dependsOn: { db: started }
`,
    );
    ok(project, ["up", "-d"]);
    const first = project.ps();
    assert.deepEqual(brief(first), ["db-0:online", "web-0:online", "web-1:online"]);
    const webPids = pidsOf(first, "web");
    const [dbPid] = pidsOf(first, "db");

    assert.match(ok(project, ["stop", "web"]), /web stopped/);
    for (const pid of webPids) assert.ok(!isPidAlive(pid), `web's process ${pid} is gone from /proc`);
    const stopped = project.ps();
    assert.deepEqual(brief(stopped), ["db-0:online", "web-0:offline(stopped)", "web-1:offline(stopped)"]);
    assert.equal(stopped.find((r) => r.service === "web")!.pid, null);
    assert.deepEqual(pidsOf(stopped, "db"), [dbPid], "the dependency is left alone");
    assert.match(ok(project, ["stop", "web"]), /web is already stopped/);

    // The desired state keeps it, stopped, with its scale: a restarted daemon does not start it.
    const daemon = new DaemonClient({ socketPath: project.paths.socket });
    const state = await daemon.get("/v1/state", desiredStateSchema);
    assert.equal(state.services.web!.stopped, true);
    assert.equal(state.services.web!.scale, 2);
    await daemon.post("/v1/shutdown", { stopServices: false });
    await until(() => !existsSync(project.paths.socket), "the daemon to exit");
    await project.startDaemon();
    assert.deepEqual(brief(project.ps()), ["db-0:online", "web-0:offline(stopped)", "web-1:offline(stopped)"]);
    assert.deepEqual(pidsOf(project.ps(), "db"), [dbPid], "db adopted, not restarted");
    assert.equal(project.processes().length, 1, "only db runs");

    assert.match(ok(project, ["start", "web"]), /started web/);
    const started = await project.waitForRows(
      "web online again",
      (rows) => rows.filter((r) => r.service === "web" && r.status === "online").length === 2,
    );
    const newPids = pidsOf(started, "web");
    for (const pid of newPids) assert.ok(isPidAlive(pid), `web's new process ${pid} runs`);
    assert.equal(newPids.filter((pid) => webPids.includes(pid)).length, 0, "new processes");

    // scale web=0 means the same as stop; the API's service entry says so too.
    assert.match(ok(project, ["scale", "web=0"]), /web stopped \(scale 0\)/);
    for (const pid of newPids) assert.ok(!isPidAlive(pid), `web's process ${pid} is gone`);
    const entry = await daemon.get("/v1/services/web", serviceBody);
    assert.equal(entry.spec.stopped, true);
    assert.equal(entry.spec.scale, 2, "the scale to start again with is kept");
    assert.deepEqual(
      entry.processes.map((r) => `${r.process}:${r.status}:${r.reason}:${r.pid}`),
      ["0:offline:stopped:null", "1:offline:stopped:null"],
    );

    // `up` of the unchanged file starts stopped services again, as compose's up does.
    ok(project, ["up", "-d"]);
    const again = project.ps();
    assert.deepEqual(brief(again), ["db-0:online", "web-0:online", "web-1:online"]);
    assert.deepEqual(pidsOf(again, "db"), [dbPid], "db untouched by up");

    // Over the API: scale 0, then a positive scale starts it.
    await daemon.post("/v1/services/web/scale", { scale: 0 }, applyResultBody);
    assert.deepEqual(brief(project.ps()), ["db-0:online", "web-0:offline(stopped)", "web-1:offline(stopped)"]);
    await daemon.post("/v1/services/web/scale", { scale: 1 }, applyResultBody);
    await project.waitForRows("web-0 online", (rows) => brief(rows).join() === "db-0:online,web-0:online");

    // Unknown names are refused before anything changes.
    const unknown = project.corral(["stop", "nope"]);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /no service named "nope" \(services: db, web\)/);
  });

  it("start brings up the stopped services a service depends on; a file's scale: 0 keeps a service stopped", async (t) => {
    const project = withProject(
      t,
      `  db:
    command: ${SLEEPER}
  web:
    command: ${SLEEPER}
    dependsOn: [db]
  tool:
    command: ${SLEEPER}
    scale: 0
`,
    );
    ok(project, ["up", "-d"]);
    assert.deepEqual(brief(project.ps()), ["db-0:online", "tool-0:offline(stopped)", "web-0:online"]);
    assert.equal(project.processes().length, 2, "no process for tool");

    ok(project, ["stop"]);
    assert.equal(project.processes().length, 0, "stop without names stops every service");
    assert.deepEqual(brief(project.ps()), ["db-0:offline(stopped)", "tool-0:offline(stopped)", "web-0:offline(stopped)"]);

    assert.match(ok(project, ["start", "web"]), /started db, web/);
    await project.waitForRows("db and web online", (rows) => rows.filter((r) => r.status === "online").length === 2);

    ok(project, ["start", "tool"]);
    await project.waitForRows("tool online", (rows) => rows.some((r) => r.service === "tool" && r.status === "online"));
    assert.equal(project.processes().length, 3);
  });
});
