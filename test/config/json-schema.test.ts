import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { corralConfigJsonSchema } from "../../src/config/index.js";
import { CONFIG_FIXTURES } from "./helpers.js";

type Schema = Record<string, unknown>;

/**
 * The few JSON Schema keywords the generated schema uses, checked structurally:
 * enough to show an editor would accept the example and flag the usual mistakes.
 * Returns the paths that fail.
 */
function check(schema: Schema, value: unknown, path = "$"): string[] {
  const errors: string[] = [];
  if (schema.anyOf) {
    const branches = (schema.anyOf as Schema[]).map((s) => check(s, value, path));
    if (branches.every((b) => b.length > 0)) errors.push(`${path}: no branch of anyOf matches`);
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const actual =
      value === null
        ? "null"
        : Array.isArray(value)
          ? "array"
          : typeof value === "number" && Number.isInteger(value)
            ? "integer"
            : typeof value;
    if (!types.some((t) => t === actual || (t === "number" && actual === "integer")))
      return [...errors, `${path}: expected ${types.join("|")}, got ${actual}`];
  }
  if (schema.enum && !(schema.enum as unknown[]).includes(value)) errors.push(`${path}: not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === "string") {
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value))
      errors.push(`${path}: does not match ${schema.pattern}`);
    if (typeof schema.minLength === "number" && value.length < schema.minLength) errors.push(`${path}: too short`);
    if (typeof schema.maxLength === "number" && value.length > schema.maxLength) errors.push(`${path}: too long`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) errors.push(`${path}: below minimum`);
    if (typeof schema.maximum === "number" && value > schema.maximum) errors.push(`${path}: above maximum`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems) errors.push(`${path}: too few items`);
    if (schema.items) value.forEach((item, i) => errors.push(...check(schema.items as Schema, item, `${path}[${i}]`)));
  } else if (typeof value === "object" && value !== null) {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in value)) errors.push(`${path}.${key}: required`);
    for (const [key, item] of Object.entries(value)) {
      if (schema.propertyNames) errors.push(...check(schema.propertyNames as Schema, key, `${path}.${key} (name)`));
      if (props[key]) errors.push(...check(props[key], item, `${path}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${path}.${key}: unknown`);
      else if (typeof schema.additionalProperties === "object")
        errors.push(...check(schema.additionalProperties as Schema, item, `${path}.${key}`));
    }
  }
  return errors;
}

describe("JSON Schema for editors", () => {
  const schema = corralConfigJsonSchema();

  it("is draft-07 with a title", () => {
    assert.equal(schema.$schema, "http://json-schema.org/draft-07/schema#");
    assert.equal(schema.title, "corral.yaml");
  });

  it("accepts the DESIGN example and a file using every field", () => {
    const example = parse(readFileSync(join(CONFIG_FIXTURES, "dev", "corral.yaml"), "utf8")) as unknown;
    assert.deepEqual(check(schema, example), []);
    const full = parse(`
services:
  api:
    command: ./tool
    args: [--port, 8080]
    ports: [http, { name: admin, portHint: 9000 }]
    scale: 3
    memory: 512MiB
    cpu: 1.5
    disk: true
    env: { A: 1, B: true, C: c }
    envFile: [.env]
    workingDirectory: data
    labels: { tier: web }
    readiness: { http: { port: admin, path: /healthz }, periodMs: 500 }
    restart: on-failure
    restartBackoff: { initialMs: 50 }
    stopSignal: SIGINT
    stopGracePeriod: 10s
    dependsOn: [db]
  db:
    command: db
    stopGracePeriod: 500
    dependsOn: { api: started }
  admin:
    extends: { service: api, file: common.yaml }
    profiles: [debug]
    disabled: false
  replica:
    extends: db
`) as unknown;
    assert.deepEqual(check(schema, full), []);
  });

  it("flags the usual mistakes", () => {
    const bad = (yamlText: string, expected: RegExp) => {
      const errors = check(schema, parse(yamlText) as unknown);
      assert.ok(
        errors.some((e) => expected.test(e)),
        `${yamlText}\n${errors.join("\n")}`,
      );
    };
    bad("services: { web: { command: x, scael: 2 } }", /\$\.services\.web\.scael: unknown/);
    bad("services: { web: { scale: 2 } }", /\$\.services\.web: no branch of anyOf matches/);
    bad("services: { web: { command: x, scale: -1 } }", /scale: below minimum/);
    bad("services: { Web: { command: x } }", /Web \(name\)/);
    // A policy or a mapping: a bad policy matches neither.
    bad("services: { web: { command: x, restart: sometimes } }", /restart: no branch of anyOf matches/);
    bad("services: { web: { command: x, restart: { maxRestarts: -1 } } }", /restart: no branch of anyOf matches/);
    bad("services: { web: { command: x, dependsOn: { db: healthy } } }", /dependsOn: no branch/);
    bad("services: { web: { command: x, stopGracePeriod: 10 seconds } }", /stopGracePeriod: no branch/);
    bad("services: {}\nextra: 1", /\$\.extra: unknown/);
    bad("services: { web: { command: x, profiles: debug } }", /profiles: expected array/);
    bad("services: { web: { extends: { name: base } } }", /extends: no branch/);
  });

  it("is what schema/corral.schema.json holds (run src/config/write-schema.ts after changing the schema)", () => {
    const written = JSON.parse(readFileSync(join(CONFIG_FIXTURES, "..", "..", "..", "schema", "corral.schema.json"), "utf8")) as unknown;
    assert.deepEqual(written, schema);
  });
});
