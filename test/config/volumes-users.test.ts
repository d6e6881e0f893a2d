// corral.yaml's volumes, users and socket directories: what they become in the
// desired state and the contract, and each mistake reported at its place.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { parseConfig, toServiceConfig } from "../../src/config/index.js";
import { parseDesiredState } from "../../src/config/desired-state.js";
import { ValidationError } from "../../src/contract/errors.js";
import { EXECUTABLE, configError, project } from "./helpers.js";

const yaml = (...lines: string[]) => `${lines.join("\n")}\n`;

function parse(t: TestContext, text: string) {
  const dir = project(t, { tool: EXECUTABLE });
  return parseConfig(text, { file: "corral.yaml", baseDir: dir, env: { PATH: join(dir, "bin") } });
}

describe("volumes, users and socket directories in corral.yaml", () => {
  it("declares volumes, and gives each service those its args name and those it lists", (t) => {
    const state = parse(
      t,
      yaml(
        "volumes:",
        "  pgdata: {}",
        "  spare:",
        "services:",
        "  initdb:",
        "    command: ./tool",
        "    volumes: [pgdata]",
        "    user: postgres",
        "    restart: never",
        "  pg:",
        "    command: ./tool",
        '    args: ["-D", "%V:pgdata", "-k", "%D:sql", "--scratch=%S"]',
        "    user: 101",
        "    group: postgres",
        "    disk: true",
        "    ports: [{ name: sql, socketDir: true, socketFile: .s.PGSQL.5432 }]",
      ),
    );
    assert.deepEqual(state.volumes, { pgdata: {}, spare: {} });
    assert.deepEqual(state.services.initdb!.volumes, ["pgdata"]);
    assert.equal(state.services.initdb!.user, "postgres");
    const pg = state.services.pg!;
    assert.deepEqual([pg.volumes, pg.user, pg.group], [["pgdata"], 101, "postgres"]);
    assert.deepEqual(pg.ports, [{ name: "sql", socketDir: true, socketFile: ".s.PGSQL.5432" }]);

    const config = toServiceConfig(pg, { namespace: "default", serviceId: "pg" });
    assert.deepEqual([config.user, config.group, config.volumes], [101, "postgres", ["pgdata"]]);
    const args = config.args!({
      processIndex: 0,
      listenAddrs: { sql: "/run/pg/sql-0/.s.PGSQL.5432" },
      peerAddrs: [],
      socketDirs: { sql: "/run/pg/sql-0" },
      volumes: { pgdata: "/var/lib/corral/volumes/pgdata" },
      scratchDirectory: "/scratch/pg",
    });
    assert.deepEqual(args, ["-D", "/var/lib/corral/volumes/pgdata", "-k", "/run/pg/sql-0", "--scratch=/scratch/pg"]);
    // Where there are no socket directories (Kubernetes), %D: cannot be filled in: an error, never the text.
    assert.throws(() => config.args!({ processIndex: 0, listenAddrs: { sql: "0.0.0.0:1" }, peerAddrs: [] }), /%V:pgdata has no value here/);
  });

  const cases: [string, string, string][] = [
    [
      "%V: naming no volume",
      yaml("volumes: { data: {} }", "services:", "  web:", "    command: ./tool", '    args: ["%V:dta"]'),
      "corral.yaml:5:12: services.web.args[0]: %V:dta names no volume (declared: data)",
    ],
    [
      "a listed volume the file does not declare",
      yaml("services:", "  web:", "    command: ./tool", "    volumes: [data]"),
      "corral.yaml:4:15: services.web.volumes[0]: names no volume of this file (the file declares no volumes)",
    ],
    [
      "%D: on a port without socketDir",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [sql]", '    args: ["-k", "%D:sql"]'),
      "corral.yaml:5:18: services.web.args[1]: %D:sql is the socket directory of a port with socketDir: true; sql has none (use %P:sql for its socket)",
    ],
    [
      "%S without a scratch directory",
      yaml("services:", "  web:", "    command: ./tool", '    args: ["--tmp=%S"]'),
      "corral.yaml:4:12: services.web.args[0]: %S is the scratch directory: the service needs disk: true to have one",
    ],
    [
      "socketDir without socketFile",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [{ name: sql, socketDir: true }]"),
      "corral.yaml:4:13: services.web.ports[0].socketFile: is required with socketDir: true (the socket's name in the directory)",
    ],
    [
      "a socketFile with a slash",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [{ name: sql, socketDir: true, socketFile: a/b }]"),
      'corral.yaml:4:55: services.web.ports[0].socketFile: must be a file name (no "/", at most 64 characters) such as ".s.PGSQL.5432"',
    ],
    [
      "a user that is no name",
      yaml("services:", "  web:", "    command: ./tool", '    user: "post gres"'),
      "corral.yaml:4:11: services.web.user: must be a name (letters, digits, _ . -) or a numeric id",
    ],
    [
      "a user this machine does not have",
      yaml("services:", "  web:", "    command: ./tool", "    user: no-such-user-here"),
      "corral.yaml:4:11: services.web.user: names no user on this machine (getent passwd found nothing)",
    ],
    [
      "services sharing a volume as different users",
      yaml(
        "volumes: { data: {} }",
        "services:",
        "  a:",
        "    command: ./tool",
        '    args: ["%V:data"]',
        "    user: postgres",
        "  b:",
        "    command: ./tool",
        '    args: ["%V:data"]',
        "    user: www-data",
      ),
      "corral.yaml:10:11: services.b.user: shares volume data with service a, which runs as user postgres, not user www-data: services sharing a volume must run as the same user",
    ],
    [
      "a user name with backend: kubernetes",
      yaml("backend: kubernetes", "services:", "  web:", "    image: nginx", "    user: nginx"),
      "corral.yaml:5:11: services.web.user: must be a numeric uid with backend: kubernetes",
    ],
    [
      "volumes with backend: kubernetes",
      yaml("backend: kubernetes", "volumes: { data: {} }", "services:", "  web:", "    image: nginx"),
      "corral.yaml:2:1: volumes: is for backend: process (on a cluster, use a PersistentVolumeClaim)",
    ],
  ];
  for (const [name, text, expected] of cases) {
    it(`reports ${name}`, (t) => {
      const dir = project(t, { tool: EXECUTABLE });
      const error = configError(() => parseConfig(text, { file: "corral.yaml", baseDir: dir, env: { PATH: join(dir, "bin") } }));
      assert.equal(error.message, expected);
    });
  }

  it("refuses a desired state whose services use volumes it does not declare", () => {
    const service = { command: "/bin/true", args: ["%V:data"] };
    assert.throws(
      () => parseDesiredState({ environment: "e", namespace: "n", services: { web: service } }),
      (error: unknown) =>
        error instanceof ValidationError && error.field === "services.web.volumes" && /volume data is not declared/.test(error.rule),
    );
    const state = parseDesiredState({ environment: "e", namespace: "n", volumes: { data: {} }, services: { web: service } });
    assert.deepEqual(toServiceConfig(state.services.web!, { namespace: "n", serviceId: "web" }).volumes, ["data"]);
  });
});
