// liveness, startup, logLine readiness and restart: { policy, maxRestarts, window, backoff } in corral.yaml.
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { parseConfig } from "../../src/config/index.js";
import { toServiceConfig } from "../../src/config/translate.js";
import { EXECUTABLE, configError, project } from "./helpers.js";

const yaml = (...lines: string[]) => `${lines.join("\n")}\n`;

function parse(t: TestContext, text: string) {
  const dir = project(t, { tool: EXECUTABLE });
  return parseConfig(text, { file: "corral.yaml", baseDir: dir, env: {} });
}

function failure(t: TestContext, text: string): string {
  const dir = project(t, { tool: EXECUTABLE });
  return configError(() => parseConfig(text, { file: "corral.yaml", baseDir: dir, env: {} })).message;
}

describe("corral.yaml: the health model", () => {
  it("reads liveness, startup, logLine readiness and the restart mapping into the spec and the contract's config", (t) => {
    const state = parse(
      t,
      yaml(
        "services:",
        "  db:",
        "    command: ./tool",
        "    ports: [pg]",
        "    readiness: { logLine: 'ready to accept connections' }",
        "    startup: { socket: pg, periodMs: 200, deadlineMs: 30000 }",
        "    liveness: { exec: [pg_isready], periodMs: 5000, failureThreshold: 3, initialDelayMs: 1000 }",
        "    restart: { policy: on-failure, maxRestarts: 5, window: 1m, backoff: { initialMs: 50 } }",
      ),
    );
    const spec = state.services.db!;
    assert.deepEqual(spec.readiness, { logLine: "ready to accept connections" });
    assert.deepEqual(spec.startup, { socket: "pg", periodMs: 200, deadlineMs: 30000 });
    assert.deepEqual(spec.liveness, { exec: ["pg_isready"], periodMs: 5000, failureThreshold: 3, initialDelayMs: 1000 });
    assert.equal(spec.restart, "on-failure");
    assert.deepEqual(spec.restartLimit, { maxRestarts: 5, windowMs: 60_000 });
    assert.deepEqual(spec.restartBackoff, { initialMs: 50 });
    const config = toServiceConfig(spec, { namespace: "default", serviceId: "db" });
    assert.deepEqual(config.restartLimit, { maxRestarts: 5, windowMs: 60_000 });
    assert.equal(config.restartPolicy, "on-failure");
    assert.deepEqual(config.liveness, spec.liveness);
  });

  it("keeps restart: <policy> as it was", (t) => {
    const spec = parse(t, yaml("services:", "  web:", "    command: ./tool", "    restart: never")).services.web!;
    assert.equal(spec.restart, "never");
    assert.equal(spec.restartLimit, undefined);
  });

  const cases: [string, string[], string][] = [
    [
      "logLine together with another readiness kind",
      ["    ports: [http]", "    readiness:", "      socket: http", "      logLine: ready"],
      "corral.yaml:7:16: services.web.readiness.logLine: cannot be combined with socket: a probe has exactly one of socket, http, exec or logLine",
    ],
    [
      "a logLine that is not a regular expression",
      ["    readiness: { logLine: 'ready (' }"],
      "corral.yaml:4:27: services.web.readiness.logLine: must be a regular expression: Invalid regular expression: /ready (/: Unterminated group",
    ],
    [
      "liveness has no logLine",
      ["    liveness: { logLine: up }"],
      "corral.yaml:4:17: services.web.liveness.logLine: unknown field (known: socket, http, exec, periodMs, timeoutMs, failureThreshold, initialDelayMs)",
    ],
    [
      "a liveness probe on a port the service lacks",
      ["    liveness: { socket: http }"],
      "corral.yaml:4:25: services.web.liveness.socket: must name one of the service's ports (the service declares no ports)",
    ],
    [
      "startup without a kind",
      ["    startup: { deadlineMs: 1000 }"],
      "corral.yaml:4:14: services.web.startup: must have exactly one of socket, http, exec or logLine",
    ],
    [
      "a restart policy that does not exist",
      ["    restart: sometimes"],
      "corral.yaml:4:14: services.web.restart: must be one of always, on-failure, never",
    ],
    [
      "a bad policy in the mapping",
      ["    restart: { policy: sometimes }"],
      "corral.yaml:4:24: services.web.restart.policy: must be one of always, on-failure, never",
    ],
    [
      "a bad window",
      ["    restart: { maxRestarts: 3, window: soon }"],
      'corral.yaml:4:40: services.web.restart.window: must be a duration such as "500ms", "10s" or "1m30s", or a whole number of milliseconds',
    ],
    [
      "a window without maxRestarts",
      ["    restart: { window: 1m }"],
      "corral.yaml:4:16: services.web.restart.window: is the window of maxRestarts: give maxRestarts too",
    ],
    [
      "backoff twice",
      ["    restartBackoff: { initialMs: 5 }", "    restart: { maxRestarts: 1, backoff: { initialMs: 5 } }"],
      "corral.yaml:5:32: services.web.restart.backoff: is also given as restartBackoff: give one of them",
    ],
  ];
  for (const [name, lines, expected] of cases) {
    it(`says where and why: ${name}`, (t) => {
      assert.equal(failure(t, yaml("services:", "  web:", "    command: ./tool", ...lines)), expected);
    });
  }
});
