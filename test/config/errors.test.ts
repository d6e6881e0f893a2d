import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { parseConfig } from "../../src/config/index.js";
import { EXECUTABLE, configError, project } from "./helpers.js";

const ID_RULE = "must match ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ and be at most 63 characters";

function failing(t: TestContext, text: string, files: Record<string, string | { text: string; mode: number }> = {}) {
  const dir = project(t, { tool: EXECUTABLE, ...files });
  return { dir, error: configError(() => parseConfig(text, { file: "corral.yaml", baseDir: dir, env: { PATH: join(dir, "bin") } })) };
}

/** `lines` joined, so each case reads like the file it stands for. */
const yaml = (...lines: string[]) => `${lines.join("\n")}\n`;

describe("corral.yaml errors: one line, file:line:col: field: rule", () => {
  const cases: [string, string, string][] = [
    [
      "bad scale (the issue's example)",
      yaml("services:", "  web:", "    command: ./tool", "", "", "", "    scale: -1"),
      "corral.yaml:7:12: services.web.scale: must be a non-negative integer (0 keeps the service with no process)",
    ],
    [
      "fractional scale",
      yaml("services:", "  web:", "    command: ./tool", "    scale: 1.5"),
      "corral.yaml:4:12: services.web.scale: must be a non-negative integer (0 keeps the service with no process)",
    ],
    [
      "scale as a string",
      yaml("services:", "  web:", "    command: ./tool", '    scale: "2"'),
      "corral.yaml:4:12: services.web.scale: must be a non-negative integer (0 keeps the service with no process)",
    ],
    [
      "unknown service field",
      yaml("services:", "  web:", "    command: ./tool", "    scael: 2"),
      "corral.yaml:4:5: services.web.scael: unknown field (did you mean scale?)",
    ],
    [
      "unknown top-level field",
      yaml("enviroment: dev", "services: {}"),
      "corral.yaml:1:1: enviroment: unknown field (did you mean environment?)",
    ],
    [
      "misspelt services: the misspelling, not a missing services:",
      yaml("servics:", "  web:", "    command: ./tool"),
      "corral.yaml:1:1: servics: unknown field (did you mean services?)",
    ],
    [
      "compose's spelling of a field",
      yaml("services:", "  web:", "    command: ./tool", "    env_file: .env"),
      "corral.yaml:4:5: services.web.env_file: unknown field (did you mean envFile?)",
    ],
    [
      "an unknown field nothing is close to lists the known ones",
      yaml("services:", "  web:", "    command: ./tool", "    restartBackoff: { zzz: 1 }"),
      "corral.yaml:4:23: services.web.restartBackoff.zzz: unknown field (known: initialMs, maxMs, multiplier, jitter, resetAfterMs)",
    ],
    [
      "unknown readiness field",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [p]", "    readiness: { socket: p, period: 1s }"),
      "corral.yaml:5:29: services.web.readiness.period: unknown field (did you mean periodMs?)",
    ],
    [
      "missing command",
      yaml("services:", "  web:", "    scale: 2"),
      "corral.yaml:2:3: services.web.command: is required (or shell: a command line)",
    ],
    ["missing services", yaml("namespace: x"), "corral.yaml:1:1: services: is required"],
    ["empty file", "", "corral.yaml:1:1: services: is required"],
    ["root not a mapping", yaml("- a"), "corral.yaml:1:1: (root): must be a mapping with a services: key"],
    ["service not a mapping", yaml("services:", "  web: ./tool"), "corral.yaml:2:8: services.web: must be a mapping of service fields"],
    ["empty service", yaml("services:", "  web:"), "corral.yaml:2:3: services.web: must be a mapping of service fields"],
    ["bad service id", yaml("services:", "  Web_1:", "    command: ./tool"), `corral.yaml:2:3: services.Web_1: ${ID_RULE}`],
    ["bad namespace", yaml("namespace: Prod", "services: {}"), `corral.yaml:1:12: namespace: ${ID_RULE}`],
    [
      "bad port name",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [http, Admin]"),
      `corral.yaml:4:19: services.web.ports[1]: ${ID_RULE}`,
    ],
    [
      "bad port hint",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [{ name: http, portHint: 70000 }]"),
      "corral.yaml:4:37: services.web.ports[0].portHint: must be a port number (1-65535)",
    ],
    [
      "duplicate port",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [http, { name: http }]"),
      'corral.yaml:4:19: services.web.ports[1]: duplicate port name "http"',
    ],
    [
      "bad memory",
      yaml("services:", "  web:", "    command: ./tool", "    memory: lots"),
      'corral.yaml:4:13: services.web.memory: must be a byte size such as "512MiB", "4GiB" or "1000000"',
    ],
    [
      "bad cpu",
      yaml("services:", "  web:", "    command: ./tool", "    cpu: fast"),
      'corral.yaml:4:10: services.web.cpu: must be cores ("1.5") or millicores ("250m")',
    ],
    [
      "bad disk",
      yaml("services:", "  web:", "    command: ./tool", "    disk: huge"),
      'corral.yaml:4:11: services.web.disk: must be a byte size such as "512MiB", "4GiB" or "1000000"',
    ],
    [
      "memory of the wrong type",
      yaml("services:", "  web:", "    command: ./tool", "    memory: [1]"),
      'corral.yaml:4:13: services.web.memory: must be a byte size such as "512MiB"',
    ],
    [
      "env value a list",
      yaml("services:", "  web:", "    command: ./tool", "    env:", "      A: [1]"),
      "corral.yaml:5:10: services.web.env.A: must be a string, number, boolean or { secret: <id> }",
    ],
    [
      "bad label key",
      yaml("services:", "  web:", "    command: ./tool", "    labels:", "      ok: yes", '      "bad key": x'),
      'corral.yaml:6:7: services.web.labels["bad key"]: label keys must be [prefix/]name with name of at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric',
    ],
    [
      "args not a list",
      yaml("services:", "  web:", "    command: ./tool", "    args: --verbose"),
      "corral.yaml:4:11: services.web.args: must be a list",
    ],
    [
      "restart policy",
      yaml("services:", "  web:", "    command: ./tool", "    restart: sometimes"),
      "corral.yaml:4:14: services.web.restart: must be one of always, on-failure, never",
    ],
    [
      "stop signal",
      yaml("services:", "  web:", "    command: ./tool", "    stopSignal: SIGNOPE"),
      'corral.yaml:4:17: services.web.stopSignal: must be a signal name such as "SIGTERM" or "SIGINT"',
    ],
    [
      "stop grace period",
      yaml("services:", "  web:", "    command: ./tool", "    stopGracePeriod: 10 seconds"),
      'corral.yaml:4:22: services.web.stopGracePeriod: must be a duration such as "500ms", "10s" or "1m30s", or a whole number of milliseconds',
    ],
    [
      "readiness with two probes",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [p]", "    readiness: { socket: p, exec: [./tool] }"),
      "corral.yaml:5:35: services.web.readiness.exec: cannot be combined with socket: a probe has exactly one of socket, http, exec or logLine",
    ],
    [
      "readiness http path",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [p]", "    readiness: { http: { port: p, path: healthz } }"),
      'corral.yaml:5:41: services.web.readiness.http.path: must start with "/"',
    ],
    [
      "readiness on an unknown port",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [http]", "    readiness:", "      socket: htp"),
      "corral.yaml:6:15: services.web.readiness.socket: must name one of the service's ports (declared: http)",
    ],
    [
      "http readiness on an unknown port",
      yaml("services:", "  web:", "    command: ./tool", "    readiness: { http: { port: admin, path: / } }"),
      "corral.yaml:4:32: services.web.readiness.http.port: must name one of the service's ports (the service declares no ports)",
    ],
    [
      "%P: naming an unknown port",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [http]", '    args: ["--listen", "%P:htp"]'),
      "corral.yaml:5:24: services.web.args[1]: %P:htp names no port of the service (declared: http)",
    ],
    [
      "%P: naming a longer unknown port",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [http]", "    args: [--admin=%P:http-admin]"),
      "corral.yaml:5:12: services.web.args[0]: %P:http-admin names no port of the service (declared: http)",
    ],
    [
      "%P: without a name",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [http]", "    args: ['%P:']"),
      'corral.yaml:5:12: services.web.args[0]: "%P:" must be followed by a port name',
    ],
    [
      "dependsOn an unknown service (map)",
      yaml("services:", "  web:", "    command: ./tool", "    dependsOn: { db: ready }"),
      "corral.yaml:4:18: services.web.dependsOn.db: names no service in this file (services: web)",
    ],
    [
      "dependsOn an unknown service (list)",
      yaml("services:", "  web:", "    command: ./tool", "    dependsOn:", "      - web2"),
      "corral.yaml:5:9: services.web.dependsOn[0]: names no service in this file (services: web)",
    ],
    [
      "dependsOn condition",
      yaml("services:", "  db:", "    command: ./tool", "  web:", "    command: ./tool", "    dependsOn: { db: healthy }"),
      "corral.yaml:6:22: services.web.dependsOn.db: must be one of ready, started, completed",
    ],
    [
      "dependsOn a string",
      yaml("services:", "  web:", "    command: ./tool", "    dependsOn: db"),
      "corral.yaml:4:16: services.web.dependsOn: must be a list of service ids or a mapping of service id to ready, started or completed",
    ],
    [
      "dependsOn itself",
      yaml("services:", "  web:", "    command: ./tool", "    dependsOn: [web]"),
      "corral.yaml:4:17: services.web.dependsOn[0]: dependency cycle: web -> web",
    ],
    [
      "relative command missing",
      yaml("services:", "  web:", "    command: ./bin/web"),
      'corral.yaml:3:14: services.web.command: "./bin/web" does not exist (<dir>/bin/web)',
    ],
    [
      "command not executable",
      yaml("services:", "  web:", "    command: ./script.sh"),
      'corral.yaml:3:14: services.web.command: "./script.sh" is not executable (<dir>/script.sh)',
    ],
    [
      "command a directory",
      yaml("services:", "  web:", "    command: ./sub"),
      'corral.yaml:3:14: services.web.command: "./sub" is not a file (<dir>/sub)',
    ],
    [
      "command not on PATH",
      yaml("services:", "  web:", "    command: webserver"),
      'corral.yaml:3:14: services.web.command: "webserver" was not found on PATH',
    ],
    [
      "workingDirectory not a directory",
      yaml("services:", "  web:", "    command: ./tool", "    workingDirectory: ./tool"),
      'corral.yaml:4:23: services.web.workingDirectory: "./tool" is not a directory (<dir>/tool)',
    ],
    ["empty command", yaml("services:", "  web:", '    command: ""'), "corral.yaml:3:14: services.web.command: must not be empty"],
    [
      "missing envFile",
      yaml("services:", "  web:", "    command: ./tool", "    envFile: .env.local"),
      'corral.yaml:4:14: services.web.envFile: ".env.local" does not exist (<dir>/.env.local)',
    ],
    [
      "bad line in an envFile",
      yaml("services:", "  web:", "    command: ./tool", "    envFile: [ok.env, conf/bad.env]"),
      "conf/bad.env:3:1: services.web.envFile[1]: must be KEY=VALUE",
    ],
    [
      "bad name in an envFile",
      yaml("services:", "  web:", "    command: ./tool", "    envFile: conf/bad-name.env"),
      'conf/bad-name.env:1:3: services.web.envFile: "1X" is not a valid variable name',
    ],
    [
      "unterminated quote in an envFile",
      yaml("services:", "  web:", "    command: ./tool", "    envFile: conf/quote.env"),
      "conf/quote.env:1:3: services.web.envFile: unterminated quoted value",
    ],
    [
      "YAML syntax",
      yaml("services:", "  web:", "    command: ./tool", "    args: [a, b"),
      "corral.yaml:5:1: (yaml): Flow sequence in block collection must be sufficiently indented and end with a ]",
    ],
    [
      "duplicate key",
      yaml("services:", "  web:", "    command: ./tool", "    command: ./tool"),
      "corral.yaml:4:5: (yaml): Map keys must be unique",
    ],
    ["tab indentation", yaml("services:", "\tweb:", "    command: ./tool"), "corral.yaml:2:1: (yaml): Tabs are not allowed as indentation"],
    [
      "expose names no port",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [http]", "    expose: [htp]"),
      "corral.yaml:5:14: services.web.expose[0]: must name one of the service's ports (declared: http)",
    ],
    [
      "expose that is not an address",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [{ name: http, expose: everywhere }]"),
      "corral.yaml:4:35: services.web.ports[0].expose: must be true, false or an IP address to listen on (e.g. 127.0.0.1, ::1, 0.0.0.0)",
    ],
    [
      "a port named like another port's process socket",
      yaml("services:", "  web:", "    command: ./tool", "    ports: [http, http-1]"),
      'corral.yaml:4:19: services.web.ports[1]: must not be another port\'s name and a number: "http-1" is the socket of process 1 of port "http"',
    ],
    [
      "drainMs that is not a duration",
      yaml("services:", "  web:", "    command: ./tool", "    drainMs: soon"),
      'corral.yaml:4:14: services.web.drainMs: must be a duration such as "500ms", "10s" or "1m30s", or a whole number of milliseconds',
    ],
    [
      "unknown balance policy",
      yaml("services:", "  web:", "    command: ./tool", "    balance: random"),
      "corral.yaml:4:14: services.web.balance: must be one of round-robin, least-connections",
    ],
  ];
  const files = {
    "script.sh": "#!/bin/sh\n",
    "sub/.keep": "",
    "ok.env": "A=1\n",
    "conf/bad.env": "A=1\n# fine\nnot a pair\n",
    "conf/bad-name.env": "  1X=2\n",
    "conf/quote.env": 'A="open\n',
  };
  for (const [name, text, expected] of cases) {
    it(name, (t) => {
      const { dir, error } = failing(t, text, files);
      assert.equal(error.message, expected.replaceAll("<dir>", dir));
      assert.doesNotMatch(error.message, /\n/);
      const [, file, line, column, field, rule] = /^(.*?):(\d+):(\d+): (.*?): (.*)$/.exec(error.message) ?? [];
      assert.deepEqual([error.file, error.line, error.column, error.field, error.rule], [file, Number(line), Number(column), field, rule]);
    });
  }

  it("reports a dependency cycle by naming it, from its first service in the file", (t) => {
    const text = yaml(
      "services:",
      "  a:",
      "    command: ./tool",
      "  b:",
      "    command: ./tool",
      "    dependsOn: { c: ready }",
      "  c:",
      "    command: ./tool",
      "    dependsOn: [d]",
      "  d:",
      "    command: ./tool",
      "    dependsOn: { b: started, a: ready }",
    );
    assert.equal(failing(t, text).error.message, "corral.yaml:6:18: services.b.dependsOn.c: dependency cycle: b -> c -> d -> b");
  });

  it("reports the problem written first when there are several", (t) => {
    const text = yaml(
      "services:",
      "  a:",
      "    command: ./tool",
      "    scale: -1",
      "  b:",
      "    command: ./missing",
      "    memory: lots",
      "    bogus: 1",
    );
    assert.equal(
      failing(t, text).error.message,
      "corral.yaml:4:12: services.a.scale: must be a non-negative integer (0 keeps the service with no process)",
    );
    const later = yaml("services:", "  a:", "    command: ./missing", "    dependsOn: [zz]");
    assert.match(failing(t, later).error.message, /^corral\.yaml:3:14: services\.a\.command: /);
  });

  it("points into flow mappings and at nested list items", (t) => {
    const text = yaml("services:", "  web:", "    command: ./tool", "    ports:", "      - http", "      - { name: admin, portHint: -1 }");
    assert.equal(failing(t, text).error.message, "corral.yaml:6:34: services.web.ports[1].portHint: must be a port number (1-65535)");
  });
});
