// hooks, stop, forking, pidFile and watch in corral.yaml: what the desired state
// gets (paths resolved against the file), and bad input refused at its line.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseConfig } from "../../src/config/index.js";
import { toServiceConfig } from "../../src/config/translate.js";
import { validateServiceConfig } from "../../src/contract/validation.js";
import { EXECUTABLE, configError, project } from "./helpers.js";

const yaml = (...lines: string[]) => `${lines.join("\n")}\n`;

describe("corral.yaml: hooks, forking servers, watch", () => {
  it("reach the desired state and the contract, paths resolved against the file", (t) => {
    const dir = project(t, { tool: EXECUTABLE });
    const text = yaml(
      "services:",
      "  web:",
      "    command: ./tool",
      "    hooks:",
      "      preStart: ./check",
      "      preStop: { command: [sleep, '1'], timeoutMs: 2000 }",
      "    stop: { command: ./tool stop }",
      "    pidFile: run/web.pid",
      "    watch:",
      "      - { path: src, action: sync-restart, target: out, include: ['*.js'] }",
    );
    const state = parseConfig(text, { file: "corral.yaml", baseDir: dir, env: {} });
    const spec = state.services.web!;
    assert.equal(spec.pidFile, join(dir, "run", "web.pid"));
    assert.deepEqual(spec.watch, [{ path: join(dir, "src"), action: "sync-restart", target: join(dir, "out"), include: ["*.js"] }]);
    const config = validateServiceConfig(toServiceConfig(spec, { namespace: "default", serviceId: "web" }));
    assert.equal(config.forking, true, "a PID file means forking");
    assert.deepEqual(config.hooks.preStart, { command: "./check", timeoutMs: 30_000 });
    assert.deepEqual(config.hooks.preStop, { command: ["sleep", "1"], timeoutMs: 2000 });
    assert.deepEqual(config.stop, { command: "./tool stop" });
  });

  const cases: [string, string, string][] = [
    [
      "an empty hook",
      yaml("services:", "  web:", "    command: ./tool", "    hooks:", "      preStart: []"),
      "corral.yaml:5:17: services.web.hooks.preStart: must name a command",
    ],
    [
      "an unknown hook",
      yaml("services:", "  web:", "    command: ./tool", "    hooks:", "      beforeStart: ./x"),
      "corral.yaml:5:7: services.web.hooks.beforeStart: unknown field (known: preStart, postStart, preStop, postStop)",
    ],
    [
      "sync-restart without target",
      yaml("services:", "  web:", "    command: ./tool", "    watch:", "      - { path: src, action: sync-restart }"),
      "corral.yaml:5:9: services.web.watch[0].target: is required with action: sync-restart",
    ],
    [
      "an unknown watch action",
      yaml("services:", "  web:", "    command: ./tool", "    watch:", "      - { path: src, action: rebuild }"),
      "corral.yaml:5:30: services.web.watch[0].action: must be one of restart, sync-restart",
    ],
    [
      "forking: false with a PID file",
      yaml("services:", "  web:", "    command: ./tool", "    forking: false", "    pidFile: x.pid"),
      "corral.yaml:4:14: services.web.forking: must not be false with pidFile (a PID file means forking)",
    ],
    [
      "pidFile on Kubernetes",
      yaml("backend: kubernetes", "services:", "  web:", "    image: x:1", "    pidFile: x.pid"),
      "corral.yaml:5:5: services.web.pidFile: is for backend: process",
    ],
  ];
  for (const [name, text, expected] of cases) {
    it(`refuses ${name} at its line`, (t) => {
      const dir = project(t, { tool: EXECUTABLE });
      const error = configError(() => parseConfig(text, { file: "corral.yaml", baseDir: dir, env: {} }));
      assert.equal(error.message, expected);
    });
  }
});
