// `corral run` and `corral exec` with the real binary and daemon: a one-off
// command gets the service's env, working directory, volumes and
// placeholders and its exit code is corral's; `--deps` starts what it depends
// on; exec, in a pseudo-terminal (tmux), runs beside the process: its env, the
// terminal as its stdin, and the process's cgroup.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { IMAGES, until } from "../helpers.js";
import { ROOT, realProject } from "./project.js";

const SLEEPER = join(IMAGES, "sleeper");

describe("corral run and exec", { timeout: 240_000 }, () => {
  it("run: the service's env, cwd, volume and placeholders; its exit code; --deps; exec in a pseudo-terminal beside the process", async (t) => {
    const project = realProject("corral-runexec-");
    t.after(() => project.cleanup());
    writeFileSync(
      join(project.dir, "corral.yaml"),
      `environment: ${project.environment}
volumes:
  data: {}
services:
  db:
    command: ${SLEEPER}
    env: { GREETING: hello }
    volumes: [data]
    ports: [sql]
    memory: 256MiB
  web:
    command: ${SLEEPER}
    dependsOn: { db: started }
`,
    );
    const up = project.corral(["up", "-d"]);
    assert.equal(up.status, 0, `${up.stdout}\n${up.stderr}`);

    const run = project.corral([
      "run",
      "db",
      "--",
      "sh",
      "-c",
      'echo "$GREETING $CORRAL_VOLUME_DATA %P:sql"; pwd; echo note > %V:data/note; exit 7',
    ]);
    assert.equal(run.status, 7, `the command's exit code is corral's:\n${run.stderr}`);
    const [line, cwd] = run.stdout.trim().split("\n");
    const volume = join(project.dir, ".corral", "volumes", "data");
    const socket = project.ps().find((r) => r.service === "db")!.addresses.sql;
    assert.equal(line, `hello ${volume} ${socket}`);
    assert.equal(cwd, project.dir, "the service's working directory");
    assert.equal(readFileSync(join(volume, "note"), "utf8"), "note\n", "the one-off wrote into the service's volume");
    assert.equal(project.corral(["run", "db", "--", "true"]).status, 0);
    const missing = project.corral(["run", "db", "--", "no-such-command-here"]);
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /no-such-command-here: command not found/);

    // --deps: the stopped dependency is started first.
    assert.equal(project.corral(["stop", "db"]).status, 0);
    const deps = project.corral(["run", "--deps", "web", "--", "true"]);
    assert.equal(deps.status, 0, deps.stderr);
    const dbRow = await project.waitForRows("db online again", (rows) => rows.some((r) => r.service === "db" && r.status === "online"));
    const dbPid = dbRow.find((r) => r.service === "db")!.pid!;

    const refused = project.corral(["exec", "db-1", "--", "true"]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /service "db" has 1 processes/);

    // exec in a pseudo-terminal: stdin is the terminal (tty names it), the env and cgroup are db-0's.
    const session = `corral-test-${process.pid}`;
    const out = join(project.dir, "exec.out");
    const status = join(project.dir, "exec.status");
    const script = `echo "$GREETING $CORRAL_SERVICE_ID-$CORRAL_PROCESS_INDEX"; tty; grep memory /proc/self/cgroup; exit 3`;
    const inner = `cd ${project.dir} && ${process.execPath} ${join(ROOT, "bin", "corral.js")} exec db -- sh -c '${script}' > ${out} 2>&1; echo $? > ${status}`;
    const tmux = spawnSync("tmux", ["new-session", "-d", "-s", session, "-x", "120", "-y", "40", inner], {
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "" },
    });
    t.after(() => void spawnSync("tmux", ["kill-session", "-t", session]));
    assert.equal(tmux.status, 0, tmux.stderr);
    await until(() => existsSync(status) && readFileSync(status, "utf8").endsWith("\n"), "the exec to finish", 60_000);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    assert.equal(readFileSync(status, "utf8").trim(), "3", `exec's exit code is the command's:\n${lines.join("\n")}`);
    assert.equal(lines[0], "hello db-0");
    assert.match(lines[1]!, /^\/dev\/pts\/\d+$/, "the command's stdin is the terminal");
    const memoryGroup = readFileSync(`/proc/${dbPid}/cgroup`, "utf8")
      .split("\n")
      .find((l) => /:memory:/.test(l));
    assert.ok(memoryGroup && !memoryGroup.endsWith(":/"), `db-0 runs in a memory cgroup of its own: ${memoryGroup}`);
    assert.equal(lines[2], memoryGroup, "the command ran in db-0's cgroup");
  });
});
