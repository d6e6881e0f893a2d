// PostgreSQL 15 (Debian's postgresql-15, which .ci/run installs) under the real
// daemon, from examples/postgres/corral.yaml as shipped: initdb as a one-shot
// job of the postgres user into a named volume, the server on a socket
// directory once initdb completed, psql against it; the data survives
// `corral down` and goes with `corral down --volumes`. Driven as a user drives
// it: `corral up -d`, `corral ps --json`, `corral down`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type RealProject, ROOT, realProject } from "./project.js";

const PSQL = "/usr/bin/psql";
const POSTGRES = "/usr/lib/postgresql/15/bin/postgres";

function psql(socketDir: string, sql: string): string {
  return execFileSync(PSQL, ["-h", socketDir, "-U", "postgres", "-qtAc", sql], { encoding: "utf8", timeout: 30_000 }).trim();
}

function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
}

describe("PostgreSQL under corral (examples/postgres)", () => {
  let project: RealProject;
  const postgresUid = () => Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());

  before(() => {
    assert.ok(existsSync(POSTGRES) && existsSync(PSQL), "postgresql-15 is installed (.ci/run installs it)");
    project = realProject("corral-pg-");
    copyFileSync(join(ROOT, "examples", "postgres", "corral.yaml"), join(project.dir, "corral.yaml"));
  });
  after(() => project.cleanup());

  const upDetached = () => {
    const up = project.corral(["up", "-d"]);
    assert.equal(up.status, 0, `corral up -d: ${up.stdout}\n${up.stderr}`);
  };
  const online = async () =>
    project.waitForRows("pg online and hello completed", (rows) => {
      const by = new Map(rows.map((row) => [row.service, row]));
      return by.get("pg")?.status === "online" && by.get("hello")?.reason === "completed";
    });

  it("runs initdb as postgres into a volume, then the server on a socket directory that psql -h connects to", async () => {
    upDetached();
    const rows = await online();
    const initdb = rows.find((row) => row.service === "initdb")!;
    assert.equal(initdb.reason, "completed", "initdb ran once and exited 0");
    const pg = rows.find((row) => row.service === "pg")!;
    // The PID corral supervises is the postmaster itself, running as postgres.
    assert.equal(readFileSync(`/proc/${pg.pid}/comm`, "utf8").trim(), "postgres");
    assert.equal(uidOf(pg.pid!), postgresUid());
    const socketDir = pg.addresses.sql!;
    assert.ok(statSync(socketDir).isDirectory(), `ps shows the socket directory: ${socketDir}`);
    assert.ok(existsSync(join(socketDir, ".s.PGSQL.5432")));
    const mode = statSync(socketDir);
    assert.equal(mode.mode & 0o777, 0o700);
    assert.equal(mode.uid, postgresUid(), "the socket directory is postgres's");

    const logs = project.corral(["logs", "hello"]);
    assert.match(logs.stdout, /hello from PostgreSQL 15/, "the one-shot psql of the example got its answer");

    assert.equal(psql(socketDir, "create table kept (word text); insert into kept values ('still here'); select 'ok'"), "ok");
    const volume = join(project.paths.volumes, "pgdata");
    assert.ok(existsSync(join(volume, "PG_VERSION")), "the cluster lives in the pgdata volume");
    assert.equal(statSync(volume).uid, postgresUid(), "the volume belongs to postgres");
  });

  it("keeps the data across corral down and corral up -d", async () => {
    const down = project.corral(["down"]);
    assert.equal(down.status, 0, down.stderr);
    assert.deepEqual(project.processes(), [], "down stopped every process");
    assert.ok(existsSync(join(project.paths.volumes, "pgdata", "PG_VERSION")), "down keeps the volume");

    upDetached();
    const rows = await online();
    const pg = rows.find((row) => row.service === "pg")!;
    assert.equal(psql(pg.addresses.sql!, "select word from kept"), "still here");
  });

  it("removes the data with corral down --volumes", () => {
    const down = project.corral(["down", "--volumes"]);
    assert.equal(down.status, 0, down.stderr);
    assert.match(down.stdout, /removed volumes: pgdata, pgsocket/);
    assert.deepEqual(project.processes(), []);
    assert.ok(!existsSync(project.paths.volumes), "the volumes are gone");
  });
});
