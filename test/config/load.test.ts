import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadConfigFile, parseConfig } from "../../src/config/index.js";
import { ValidationError } from "../../src/contract/errors.js";
import { CONFIG_FIXTURES, EXECUTABLE, configError, project } from "./helpers.js";

const NODE_DIR = dirname(process.execPath);
const EXAMPLE_DIR = join(CONFIG_FIXTURES, "dev");

function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((p) => `${p}:${statSync(join(dir, p)).mtimeMs}`)
    .sort();
}

describe("corral.yaml loading", () => {
  it("loads the DESIGN example as written", async () => {
    const before = listTree(EXAMPLE_DIR);
    const state = await loadConfigFile(join(EXAMPLE_DIR, "corral.yaml"), { env: { PATH: NODE_DIR } });
    assert.deepEqual(state, {
      environment: "dev",
      namespace: "default",
      services: {
        db: {
          command: join(EXAMPLE_DIR, "bin", "db"),
          args: ["--listen", "%P:sql", "--index", "%I"],
          ports: [{ name: "sql" }],
          scale: 1,
          env: {},
          workingDirectory: EXAMPLE_DIR,
          labels: {},
          dependsOn: {},
          readiness: { socket: "sql" },
        },
        web: {
          command: join(NODE_DIR, "node"),
          args: ["web.js", "%P:http"],
          ports: [{ name: "http" }],
          scale: 2,
          env: { LOG_LEVEL: "info" },
          // `node web.js` runs in the file's folder, so it finds web.js.
          workingDirectory: EXAMPLE_DIR,
          labels: {},
          dependsOn: { db: "ready" },
        },
      },
    });
    assert.deepEqual(listTree(EXAMPLE_DIR), before, "loading writes nothing");
  });

  it("fills in defaults: environment from the folder name, namespace, scale, empty maps", (t) => {
    const dir = project(t, { "bin/tool": EXECUTABLE }, "My Project_1");
    const state = parseConfig("services:\n  one:\n    command: bin/tool\n", { file: "corral.yaml", baseDir: dir, env: {} });
    assert.deepEqual(state, {
      environment: "my-project-1",
      namespace: "default",
      services: {
        one: { command: join(dir, "bin/tool"), args: [], ports: [], scale: 1, env: {}, workingDirectory: dir, labels: {}, dependsOn: {} },
      },
    });
    const odd = project(t, { tool: EXECUTABLE }, "__");
    assert.equal(parseConfig("services: {}\n", { file: "c.yaml", baseDir: odd, env: {} }).environment, "default");
  });

  it("reads every field and stringifies scalar values", (t) => {
    const dir = project(t, { tool: EXECUTABLE, "data/.keep": "" });
    const text = `
environment: staging
namespace: shop
services:
  api:
    command: ./tool
    args: [--port, 8080, "%N"]
    ports: [http, { name: admin, portHint: 9000 }]
    scale: 3
    memory: 512MiB
    cpu: 1.5
    disk: 10GiB
    env: { RETRIES: 3, DEBUG: true, NAME: api }
    workingDirectory: data
    labels: { tier: web, version: 2 }
    readiness: { http: { port: admin, path: /healthz }, periodMs: 500, timeoutMs: 200, failureThreshold: 5 }
    restart: on-failure
    restartBackoff: { initialMs: 50, maxMs: 1000 }
    stopSignal: INT
    stopGracePeriod: 1m30s
    dependsOn: [cache]
  cache:
    command: ./tool
    disk: true
    stopGracePeriod: 250
    dependsOn: {}
  job:
    command: ./tool
    disk: false
    readiness: { exec: [./tool, --check] }
    dependsOn: { cache: started, api: completed }
`;
    const state = parseConfig(text, { file: "corral.yaml", baseDir: dir, env: {} });
    assert.equal(state.environment, "staging");
    assert.equal(state.namespace, "shop");
    assert.deepEqual(state.services.api, {
      command: join(dir, "tool"),
      args: ["--port", "8080", "%N"],
      ports: [{ name: "http" }, { name: "admin", portHint: 9000 }],
      scale: 3,
      memory: "512MiB",
      cpu: "1.5",
      disk: "10GiB",
      env: { RETRIES: "3", DEBUG: "true", NAME: "api" },
      workingDirectory: join(dir, "data"),
      labels: { tier: "web", version: "2" },
      readiness: { http: { port: "admin", path: "/healthz" }, periodMs: 500, timeoutMs: 200, failureThreshold: 5 },
      restart: "on-failure",
      restartBackoff: { initialMs: 50, maxMs: 1000 },
      stopSignal: "SIGINT",
      stopGracePeriodMs: 90_000,
      dependsOn: { cache: "ready" },
    });
    assert.equal(state.services.cache!.disk, true);
    assert.equal(state.services.cache!.stopGracePeriodMs, 250);
    assert.equal("disk" in state.services.job!, false, "disk: false is the same as no disk");
    assert.deepEqual(state.services.job!.readiness, { exec: ["./tool", "--check"] });
    assert.deepEqual(state.services.job!.dependsOn, { cache: "started", api: "completed" });
  });

  it("keeps numbers in env, labels and args as written", (t) => {
    const dir = project(t, { tool: EXECUTABLE });
    const text =
      "services:\n  a:\n    command: ./tool\n    args: [--mode, 0755, 1.10, '1.20']\n    env: { VERSION: 1.10, HEX: 0x1F, BIG: 1e3, ON: True }\n    labels: { release: 2.0 }\n    memory: 1e9\n";
    const spec = parseConfig(text, { file: "c.yaml", baseDir: dir, env: {} }).services.a!;
    assert.deepEqual(spec.args, ["--mode", "0755", "1.10", "1.20"]);
    assert.deepEqual(spec.env, { VERSION: "1.10", HEX: "0x1F", BIG: "1e3", ON: "True" });
    assert.deepEqual(spec.labels, { release: "2.0" });
    assert.equal(spec.memory, "1000000000");
  });

  it("supports anchors and merge keys for shared settings", (t) => {
    const dir = project(t, { tool: EXECUTABLE });
    const text = "services:\n  a: &base\n    command: ./tool\n    scale: 2\n    env: { A: x }\n  b:\n    <<: *base\n    scale: 3\n";
    const state = parseConfig(text, { file: "c.yaml", baseDir: dir, env: {} });
    assert.equal(state.services.a!.scale, 2);
    assert.equal(state.services.b!.scale, 3);
    assert.deepEqual(state.services.b!.env, { A: "x" });
    assert.equal(state.services.b!.command, join(dir, "tool"));
    // A problem in merged-in values is reported at the service that merges them.
    const bad = "services:\n  a: &base\n    command: ./tool\n  b:\n    <<: { scale: -1 }\n    command: ./tool\n";
    assert.equal(
      configError(() => parseConfig(bad, { file: "c.yaml", baseDir: dir, env: {} })).message,
      "c.yaml:4:3: services.b.scale: must be a non-negative integer (0 keeps the service with no process)",
    );
  });

  it("treats `key:` with nothing after it as left out", (t) => {
    const dir = project(t, { tool: EXECUTABLE });
    const state = parseConfig("namespace:\nservices:\n  a:\n    command: ./tool\n    args:\n    env:\n", {
      file: "c.yaml",
      baseDir: dir,
      env: {},
    });
    assert.equal(state.namespace, "default");
    assert.deepEqual(state.services.a!.args, []);
  });

  it("parses durations for stopGracePeriod", (t) => {
    const dir = project(t, { tool: EXECUTABLE });
    for (const [written, ms] of [
      ["10s", 10_000],
      ["500ms", 500],
      ["1m", 60_000],
      ["1.5s", 1500],
      ["1h", 3_600_000],
      ["0", 0],
    ] as const) {
      const text = `services:\n  a:\n    command: ./tool\n    stopGracePeriod: ${written === "0" ? 0 : JSON.stringify(written)}\n`;
      assert.equal(parseConfig(text, { file: "c.yaml", baseDir: dir, env: {} }).services.a!.stopGracePeriodMs, ms, written);
    }
  });

  it("merges envFiles under the inline env", (t) => {
    const dir = project(t, {
      tool: EXECUTABLE,
      ".env": [
        "# a comment",
        "",
        "A=from-file",
        "B = spaced ",
        'C="double \\"quoted\\"\\nline"',
        "D='single # not a comment'",
        "E=value # a comment",
        "export F=exported",
        "EMPTY=",
        "URL=http://x/?a=b#frag",
      ].join("\n"),
      "conf/extra.env": "A=from-extra\nG=g\n",
    });
    const one = parseConfig("services:\n  a:\n    command: ./tool\n    envFile: .env\n    env: { B: inline }\n", {
      file: "corral.yaml",
      baseDir: dir,
      env: {},
    });
    assert.deepEqual(one.services.a!.env, {
      A: "from-file",
      B: "inline",
      C: 'double "quoted"\nline',
      D: "single # not a comment",
      E: "value",
      F: "exported",
      EMPTY: "",
      URL: "http://x/?a=b#frag",
    });
    const two = parseConfig("services:\n  a:\n    command: ./tool\n    envFile: [.env, conf/extra.env]\n", {
      file: "corral.yaml",
      baseDir: dir,
      env: {},
    });
    assert.equal(two.services.a!.env.A, "from-extra", "later files win");
    assert.equal(two.services.a!.env.G, "g");
  });

  it("looks names up on PATH in order, skipping files that are not executable", (t) => {
    const dir = project(t, {
      "first/tool": "not executable\n",
      "second/tool": EXECUTABLE,
      "third/tool": EXECUTABLE,
      "first/sub/.keep": "",
    });
    const env = { PATH: ["", join(dir, "missing"), join(dir, "first"), join(dir, "second"), join(dir, "third")].join(":") };
    const state = parseConfig("services:\n  a:\n    command: tool\n", { file: "c.yaml", baseDir: dir, env });
    assert.equal(state.services.a!.command, join(dir, "second", "tool"));
    const sub = configError(() =>
      parseConfig("services:\n  a:\n    command: sub\n", { file: "c.yaml", baseDir: dir, env: { PATH: join(dir, "first") } }),
    );
    assert.equal(sub.message, 'c.yaml:3:14: services.a.command: "sub" was not found on PATH');
    const empty = configError(() => parseConfig("services:\n  a:\n    command: tool\n", { file: "c.yaml", baseDir: dir, env: {} }));
    assert.equal(empty.message, 'c.yaml:3:14: services.a.command: "tool" was not found on PATH (PATH is empty)');
  });

  it("accepts absolute command paths", (t) => {
    const dir = project(t, { tool: EXECUTABLE });
    const state = parseConfig(`services:\n  a:\n    command: ${join(dir, "tool")}\n`, { file: "c.yaml", baseDir: "/", env: {} });
    assert.equal(state.services.a!.command, join(dir, "tool"));
  });

  it("reports an unreadable file as a ConfigError that is also a ValidationError", async (t) => {
    const dir = project(t, {});
    await assert.rejects(loadConfigFile(join(dir, "corral.yaml"), { displayName: "corral.yaml" }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e instanceof ValidationError);
      assert.equal(e.message, "corral.yaml:1:1: (file): no such file");
      return true;
    });
  });

  it("names errors with the path as given", async (t) => {
    const dir = project(t, { "corral.yaml": "services:\n  a:\n    command: ./nope\n" });
    await assert.rejects(loadConfigFile(join(dir, "corral.yaml")), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, `${join(dir, "corral.yaml")}:3:14: services.a.command: "./nope" does not exist (${join(dir, "nope")})`);
      return true;
    });
  });
});
