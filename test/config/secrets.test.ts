// Secrets in corral.yaml and the desired state: `secrets:` (files, %C) and
// `env: { X: { secret: id } }` (variables), how they reach the contract, and
// the errors for what cannot work.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { parseConfig } from "../../src/config/index.js";
import { parseDesiredState } from "../../src/config/desired-state.js";
import { toServiceConfig } from "../../src/config/translate.js";
import { ValidationError } from "../../src/contract/errors.js";
import { validateServiceConfig } from "../../src/contract/validation.js";
import { EXECUTABLE, configError, project } from "./helpers.js";

const yaml = (...lines: string[]) => `${lines.join("\n")}\n`;

function parse(t: TestContext, text: string) {
  const dir = project(t, { tool: EXECUTABLE, "web.env": "PGPASSWORD=from-the-env-file\nMODE=file\n" });
  return { dir, parse: () => parseConfig(text, { file: "corral.yaml", baseDir: dir, env: { PATH: join(dir, "bin") } }) };
}

describe("secrets in corral.yaml", () => {
  it("become secrets and secretEnv in the desired state, and %C the process's secrets directory", (t) => {
    const file = yaml(
      "services:",
      "  pg:",
      "    command: ./tool",
      '    args: ["--password-file", "%C/db-password"]',
      "    secrets: [db-password]",
      "    envFile: web.env",
      "    env: { PGPASSWORD: { secret: db-password }, PGUSER: app }",
    );
    const spec = parse(t, file).parse().services.pg!;
    assert.deepEqual(spec.secrets, ["db-password"]);
    assert.deepEqual(spec.secretEnv, { PGPASSWORD: "db-password" });
    assert.deepEqual(spec.env, { MODE: "file", PGUSER: "app" }, "a variable from a secret wins over the envFile's line");
    const config = toServiceConfig(spec, { namespace: "default", serviceId: "pg" });
    assert.deepEqual(config.secrets, ["db-password"]);
    assert.deepEqual(config.secretEnv, { PGPASSWORD: "db-password" });
    assert.deepEqual(config.args!({ processIndex: 0, listenAddrs: {}, peerAddrs: [{}], secretsDirectory: "/run/x/0.secrets" }), [
      "--password-file",
      "/run/x/0.secrets/db-password",
    ]);
  });

  it("a service without secrets has none in its spec", (t) => {
    const spec = parse(t, yaml("services:", "  web:", "    command: ./tool")).parse().services.web!;
    assert.equal(spec.secrets, undefined);
    assert.equal(spec.secretEnv, undefined);
  });

  const cases: [string, string[], string][] = [
    [
      "%C without secrets",
      ['    args: ["%C/x"]'],
      "corral.yaml:4:12: services.web.args[0]: %C is the directory of the service's secret files, and the service names no secrets",
    ],
    ["a secret id that is not an id", ["    env: { A: { secret: DB_PASSWORD } }"], "services.web.env.A.secret: must match"],
    ["an env object that is not a secret", ["    env: { A: { value: x } }"], "services.web.env.A.secret: is required"],
    ["a secret named twice", ["    secrets: [a, a]"], 'services.web.secrets[1]: duplicate secret "a"'],
  ];
  for (const [name, lines, message] of cases) {
    it(`refuses ${name}`, (t) => {
      const error = configError(parse(t, yaml("services:", "  web:", "    command: ./tool", ...lines)).parse);
      assert.ok(error.message.includes(message), error.message);
    });
  }
});

describe("secrets in the desired state and the contract", () => {
  const spec = { command: "/bin/true", args: [], ports: [], scale: 1, env: {}, labels: {}, dependsOn: {} };
  const state = (service: object) => ({ environment: "e", namespace: "default", services: { web: { ...spec, ...service } } });

  it("refuses a variable set both plainly and from a secret", () => {
    assert.throws(
      () => parseDesiredState(state({ env: { A: "1" }, secretEnv: { A: "db" } })),
      (e: ValidationError) => e.field === "services.web.secretEnv.A" && /also set in env/.test(e.rule),
    );
    assert.throws(
      () => validateServiceConfig({ image: "/bin/true", scale: 1, env: { A: "1" }, secretEnv: { A: "db" } }),
      (e: ValidationError) => e.field === "secretEnv.A",
    );
  });

  it("refuses %C without secrets, and a bad secret id", () => {
    assert.throws(
      () => parseDesiredState(state({ args: ["%C"] })),
      (e: ValidationError) => e.field === "services.web.args[0]",
    );
    assert.throws(
      () => parseDesiredState(state({ secrets: ["Bad"] })),
      (e: ValidationError) => e.field === "services.web.secrets[0]",
    );
    assert.throws(() => validateServiceConfig({ image: "/bin/true", scale: 1, secretEnv: { A: "no_id" } }), ValidationError);
  });
});
