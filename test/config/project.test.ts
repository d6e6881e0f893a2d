// The project loader: ${VAR} interpolation (shell, .env, --env-file), several
// files merged by compose's rules, corral.override.yaml, extends, profiles and
// subsets, corral.yaml found upwards, and `corral config`'s resolved file, which
// loads back to the same desired state. Every error names file:line:col.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import { ConfigError, ProjectFileNotFoundError, findProjectFile, loadProject } from "../../src/config/index.js";
import { EXECUTABLE, project } from "./helpers.js";

const TOOL = { tool: EXECUTABLE };

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof ProjectFileNotFoundError) return error.message;
    throw error;
  }
  throw new Error("expected an error");
}

describe("interpolation", () => {
  it("fills ${VAR}, $VAR, defaults, alternatives and $$ from the shell, then .env", (t) => {
    const dir = project(t, {
      ...TOOL,
      ".env": "FROM_FILE=file\nBOTH=file\nEMPTY=\n",
      "corral.yaml": [
        "services:",
        "  web:",
        "    command: ./tool",
        "    args: ['${SHELL_VAR}', '$SHELL_VAR-x', '${FROM_FILE}', '${BOTH}', '${NOPE:-dflt}', '${EMPTY:-dflt}', '${EMPTY-dflt}', '${SHELL_VAR:+alt}', '${NOPE+alt}', 'cost $$5', '${NOPE:-${FROM_FILE}}']",
        "    scale: ${SCALE:-2}",
        "    env:",
        "      VERSION: ${VERSION}",
        "",
      ].join("\n"),
    });
    const state = loadProject({ cwd: dir, env: { SHELL_VAR: "sh", BOTH: "shell", VERSION: "1.10" } }).state;
    const web = state.services.web!;
    assert.deepEqual(web.args, ["sh", "sh-x", "file", "shell", "dflt", "dflt", "", "alt", "", "cost $5", "file"]);
    assert.equal(web.scale, 2, "a plain scalar that interpolates to a number is one");
    assert.equal(web.env.VERSION, "1.10", "env keeps the text, not the number 1.1");
  });

  it("--env-file replaces .env, relative to the current folder", (t) => {
    const dir = project(t, {
      ...TOOL,
      ".env": "PORTNAME=fromdotenv\n",
      "conf/other.env": "PORTNAME=fromother\n",
      "corral.yaml": "services:\n  web:\n    command: ./tool\n    env: { P: '${PORTNAME}' }\n",
    });
    assert.equal(loadProject({ cwd: dir, env: {} }).state.services.web!.env.P, "fromdotenv");
    assert.equal(loadProject({ cwd: dir, env: {}, envFiles: ["conf/other.env"] }).state.services.web!.env.P, "fromother");
    assert.match(
      failure(() => loadProject({ cwd: dir, env: {}, envFiles: ["missing.env"] })),
      /^missing\.env:1:1: \(file\): no such file$/,
    );
  });

  it("an unset variable without default, a ${VAR:?message} and a lone $ are errors at the expression's line and column", (t) => {
    const dir = project(t, {
      ...TOOL,
      "corral.yaml": 'services:\n  web:\n    command: ./tool\n    args: ["--host=${DB_HOST}"]\n',
      "b.yaml": "services:\n  web:\n    command: ./tool\n    env:\n      URL: ${URL:?set URL to the API}\n",
      "c.yaml": "services:\n  web:\n    command: ./tool\n    args: ['price: $5']\n",
      "d.yaml": "services:\n  web:\n    command: ./tool\n    args: ['${OPEN']\n",
    });
    assert.equal(
      failure(() => loadProject({ cwd: dir, env: {} })),
      "corral.yaml:4:20: services.web.args[0]: variable DB_HOST is not set (set it in the environment or .env, or give a default: ${DB_HOST:-value})",
    );
    assert.equal(
      failure(() => loadProject({ cwd: dir, env: { URL: "" }, files: ["b.yaml"] })),
      "b.yaml:5:12: services.web.env.URL: variable URL is empty: set URL to the API",
    );
    assert.equal(
      failure(() => loadProject({ cwd: dir, env: {}, files: ["c.yaml"] })),
      'c.yaml:4:20: services.web.args[0]: "$5" is not a variable: write $$ for a literal $',
    );
    assert.match(
      failure(() => loadProject({ cwd: dir, env: {}, files: ["d.yaml"] })),
      /^d\.yaml:4:13: services\.web\.args\[0\]: unterminated \$\{OPEN/,
    );
  });

  it("a bad .env line is reported in .env", (t) => {
    const dir = project(t, { ...TOOL, ".env": "OK=1\nnot a line\n", "corral.yaml": "services:\n  web:\n    command: ./tool\n" });
    assert.equal(
      failure(() => loadProject({ cwd: dir, env: {} })),
      ".env:2:1: (env file): must be KEY=VALUE",
    );
  });
});

describe("several files", () => {
  const base = [
    "services:",
    "  db:",
    "    command: ./tool",
    "  web:",
    "    command: ./tool",
    "    args: [a, b]",
    "    ports: [http, { name: admin, portHint: 9000 }]",
    "    env: { A: base, B: base }",
    "    envFile: base.env",
    "    secrets: [one]",
    "    dependsOn: [db]",
    "    readiness: { socket: http }",
    "",
  ].join("\n");

  it("reads corral.override.yaml beside corral.yaml by default: scale changed, env added", (t) => {
    const dir = project(t, {
      ...TOOL,
      "base.env": "F=1\n",
      "corral.yaml": base,
      "corral.override.yaml": "services:\n  web:\n    scale: 3\n    env: { B: override, C: added }\n",
    });
    const loaded = loadProject({ cwd: dir, env: {} });
    assert.deepEqual(loaded.files, [join(dir, "corral.yaml"), join(dir, "corral.override.yaml")]);
    const web = loaded.state.services.web!;
    assert.equal(web.scale, 3);
    assert.deepEqual(web.env, { F: "1", A: "base", B: "override", C: "added" });
    // Named files: only those (compose reads the override file only when no -f is given).
    assert.equal(loadProject({ cwd: dir, env: {}, files: ["corral.yaml"] }).state.services.web!.scale, 1);
  });

  it("merges -f files in order: maps merged, args replaced, ports by name, secrets and envFile joined, dependsOn merged", (t) => {
    const dir = project(t, {
      ...TOOL,
      "base.env": "F=base\n",
      "local.env": "F=local\n",
      "corral.yaml": base,
      "local.yaml": [
        "services:",
        "  cache:",
        "    command: ./tool",
        "  web:",
        "    args: [c]",
        "    ports: [{ name: admin, portHint: 9100 }, metrics]",
        "    envFile: local.env",
        "    secrets: [two, one]",
        "    dependsOn: { cache: started }",
        "    readiness: { http: { port: http, path: /healthz } }",
        "",
      ].join("\n"),
    });
    const web = loadProject({ cwd: dir, env: {}, files: ["corral.yaml", "local.yaml"] }).state.services.web!;
    assert.deepEqual(web.args, ["c"]);
    assert.deepEqual(web.ports, [{ name: "http" }, { name: "admin", portHint: 9100 }, { name: "metrics" }]);
    assert.equal(web.env.F, "local", "the later envFile wins");
    assert.deepEqual(web.secrets, ["one", "two"]);
    assert.deepEqual(web.dependsOn, { db: "ready", cache: "started" });
    assert.deepEqual(web.readiness, { http: { port: "http", path: "/healthz" } }, "a probe of another kind replaces the socket probe");
  });

  it("names the file, line and column of a value an override wrote", (t) => {
    const dir = project(t, {
      ...TOOL,
      "corral.yaml": "services:\n  web:\n    command: ./tool\n",
      "corral.override.yaml": "services:\n  web:\n    sacle: 2\n",
    });
    assert.equal(
      failure(() => loadProject({ cwd: dir, env: {} })),
      "corral.override.yaml:3:5: services.web.sacle: unknown field (did you mean scale?)",
    );
    writeFileSync(join(dir, "corral.override.yaml"), "services:\n  web:\n    scale: -1\n");
    assert.equal(
      failure(() => loadProject({ cwd: dir, env: {} })),
      "corral.override.yaml:3:12: services.web.scale: must be a non-negative integer (0 keeps the service with no process)",
    );
  });
});

describe("extends", () => {
  it("starts from a service of the same file or another one, paths of the other file kept its own", (t) => {
    const dir = project(t, {
      ...TOOL,
      "shared/bin/common-tool": EXECUTABLE,
      "shared/common.env": "COMMON=1\n",
      "shared/common.yaml": [
        "services:",
        "  node-app:",
        "    command: bin/common-tool",
        "    envFile: common.env",
        "    env: { NODE_ENV: production, LOG: info }",
        "    restart: always",
        "",
      ].join("\n"),
      "corral.yaml": [
        "services:",
        "  base:",
        "    command: ./tool",
        "    env: { LOG: debug }",
        "    labels: { team: web }",
        "  web:",
        "    extends: base",
        "    scale: 2",
        "  api:",
        "    extends: { file: shared/common.yaml, service: node-app }",
        "    env: { LOG: warn }",
        "",
      ].join("\n"),
    });
    const { services } = loadProject({ cwd: dir, env: {} }).state;
    assert.equal(services.web!.command, join(dir, "tool"));
    assert.deepEqual(services.web!.labels, { team: "web" });
    assert.deepEqual(services.web!.env, { LOG: "debug" });
    assert.equal(services.web!.scale, 2);
    assert.equal(services.api!.command, join(dir, "shared", "bin", "common-tool"));
    assert.deepEqual(services.api!.env, { COMMON: "1", NODE_ENV: "production", LOG: "warn" });
    assert.equal(services.api!.restart, "always");
  });

  it("an unknown service, a missing file and a cycle are errors at the extends line", (t) => {
    const dir = project(t, {
      ...TOOL,
      "corral.yaml": "services:\n  web:\n    extends: nope\n",
      "b.yaml": "services:\n  web:\n    extends: { file: missing.yaml, service: x }\n",
      "c.yaml": "services:\n  a:\n    extends: b\n  b:\n    extends: a\n",
    });
    assert.equal(
      failure(() => loadProject({ cwd: dir, env: {} })),
      "corral.yaml:3:14: services.web.extends: names no service in this file (services: web)",
    );
    assert.equal(
      failure(() => loadProject({ cwd: dir, env: {}, files: ["b.yaml"] })),
      `b.yaml:3:22: services.web.extends.file: "missing.yaml": no such file (${join(dir, "missing.yaml")})`,
    );
    assert.match(
      failure(() => loadProject({ cwd: dir, env: {}, files: ["c.yaml"] })),
      /^c\.yaml:\d+:14: services\.[ab]\.extends: extends cycle: /,
    );
  });
});

describe("profiles and subsets", () => {
  const file = [
    "services:",
    "  db:",
    "    command: ./tool",
    "  web:",
    "    command: ./tool",
    "    dependsOn: [db]",
    "  worker:",
    "    command: ./tool",
    "  debugger:",
    "    command: ./tool",
    "    profiles: [debug]",
    "    dependsOn: [web]",
    "  old:",
    "    command: ./tool",
    "    disabled: true",
    "",
  ].join("\n");

  it("runs a profile's services only with --profile or CORRAL_PROFILES, never a disabled one unless named", (t) => {
    const dir = project(t, { ...TOOL, "corral.yaml": file });
    const ids = (opts: Parameters<typeof loadProject>[0]) => Object.keys(loadProject({ cwd: dir, env: {}, ...opts }).state.services);
    assert.deepEqual(ids({}), ["db", "web", "worker"]);
    assert.deepEqual(ids({ profiles: ["debug"] }), ["db", "web", "worker", "debugger"]);
    assert.deepEqual(ids({ env: { CORRAL_PROFILES: "debug, other" } }), ["db", "web", "worker", "debugger"]);
    assert.deepEqual(ids({ profiles: ["*"] }), ["db", "web", "worker", "debugger"]);
    // Named on the command line: those and their dependencies, whatever their profiles or disabled.
    assert.deepEqual(ids({ services: ["web"] }), ["db", "web"]);
    assert.deepEqual(ids({ services: ["debugger", "old"] }), ["db", "web", "debugger", "old"]);
    assert.throws(() => ids({ services: ["nope"] }), /no service "nope" in the file \(services: db, web, worker, debugger, old\)/);
  });

  it("a service that runs may not depend on one that does not", (t) => {
    const dir = project(t, { ...TOOL, "corral.yaml": file.replace("    dependsOn: [db]\n", "    dependsOn: [old]\n") });
    assert.equal(
      failure(() => loadProject({ cwd: dir, env: {} })),
      "corral.yaml:6:17: services.web.dependsOn[0]: names service old, which does not run: it is disabled (disabled: true)",
    );
  });
});

describe("finding the file", () => {
  it("finds corral.yaml in a parent folder, and says how to name one when there is none", (t) => {
    const dir = project(t, { ...TOOL, "corral.yaml": "services:\n  web:\n    command: ./tool\n", "a/b/keep": "" });
    assert.equal(findProjectFile(join(dir, "a", "b")), join(dir, "corral.yaml"));
    assert.equal(loadProject({ cwd: join(dir, "a", "b"), env: {} }).projectDir, dir);
    const empty = project(t, {}, "empty");
    mkdirSync(join(empty, "sub"));
    const message = failure(() => loadProject({ cwd: join(empty, "sub"), env: {} }));
    assert.match(
      message,
      /^no corral\.yaml in .*\/empty\/sub or any folder above it: run corral in the project's folder, or name the file with -f <path>$/,
    );
  });
});

describe("the resolved file (corral config)", () => {
  it("loads back to the same desired state, and says where each value came from", (t) => {
    const dir = project(t, {
      ...TOOL,
      ".env": "GREETING=hello\n",
      "corral.yaml": [
        "services:",
        "  base:",
        "    command: ./tool",
        "    profiles: [never]",
        "  web:",
        "    extends: base",
        "    args: ['${GREETING}', 'cost $$5', '%P:http']",
        "    ports: [http]",
        "    env:",
        "      VERSION: 1.10",
        "      PORT: ${PORT:-8080}",
        "",
      ].join("\n"),
      "corral.override.yaml": "services:\n  web:\n    scale: 2\n",
    });
    const loaded = loadProject({ cwd: dir, env: {} });
    assert.deepEqual(Object.keys(loaded.resolved.services as object), ["web"]);
    writeFileSync(join(dir, "resolved.yaml"), stringify(loaded.resolved));
    const again = loadProject({ cwd: dir, env: { GREETING: "changed" }, files: ["resolved.yaml"] });
    assert.deepEqual(again.state, loaded.state);
    assert.deepEqual(loaded.state.services.web!.args, ["hello", "cost $5", "%P:http"]);
    const why = loaded.why("services.web");
    const line = (field: string) => why.find((l) => l.field === field);
    assert.equal(line("services.web.scale")?.at, "corral.override.yaml:3:12");
    assert.equal(line("services.web.command")?.at, "corral.yaml:3:14");
    assert.deepEqual(line("services.web.args[0]"), {
      field: "services.web.args[0]",
      value: "hello",
      at: "corral.yaml:7:12",
      variables: [{ name: "GREETING", from: ".env" }],
    });
  });
});
