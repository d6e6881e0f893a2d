// The README's corral.yaml reference against the schema and the defaults table:
// every field the schema accepts is documented, nothing documented is missing
// from the schema, and every default the README states is the code's.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CONFIG_DEFAULTS, SERVICE_DEFAULTS } from "../../src/contract/defaults.js";
import { readinessSchema, restartBackoffSchema } from "../../src/contract/rules.js";
import { livenessSchema, startupSchema } from "../../src/contract/probe-rules.js";
import { restartObjectSchema } from "../../src/config/restart.js";
import { corralFileSchema, serviceSchema } from "../../src/config/schema.js";

const README = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "..", "README.md"), "utf8");

/** The rows of the reference's tables: field → the default column as written. */
function referenceRows(): Map<string, string>[] {
  const section = README.slice(README.indexOf("#### Reference"));
  const tables = section.slice(0, section.search(/\n#{2,4} (?!Reference)/)).split(/\n\n/);
  return tables
    .map((block) => block.split("\n").filter((line) => /^\| `/.test(line)))
    .filter((rows) => rows.length > 0)
    .map(
      (rows) =>
        new Map(
          rows.map((row) => [
            /^\| `([^`]+)`/.exec(row)![1]!,
            row
              .split(/(?<!\\)\|/)
              .at(-2)!
              .trim(),
          ]),
        ),
    );
}

/** The defaults the code applies, by the field's name in the reference. */
const DEFAULTS: Record<string, string | number> = {
  namespace: CONFIG_DEFAULTS.namespace,
  backend: CONFIG_DEFAULTS.backend,
  scale: SERVICE_DEFAULTS.scale,
  restart: SERVICE_DEFAULTS.restartPolicy,
  stopSignal: SERVICE_DEFAULTS.stopSignal,
  stopGracePeriod: `${SERVICE_DEFAULTS.terminationGracePeriodMs / 1000}s`,
  ...Object.fromEntries(Object.entries(SERVICE_DEFAULTS.readiness).map(([key, value]) => [`readiness.${key}`, value])),
  ...Object.fromEntries(Object.entries(SERVICE_DEFAULTS.restartBackoff).map(([key, value]) => [`restartBackoff.${key}`, value])),
  ...Object.fromEntries(Object.entries(SERVICE_DEFAULTS.liveness).map(([key, value]) => [`liveness.${key}`, value])),
  ...Object.fromEntries(Object.entries(SERVICE_DEFAULTS.startup).map(([key, value]) => [`startup.${key}`, value])),
  "restart.policy": SERVICE_DEFAULTS.restartPolicy,
  "restart.window": `${SERVICE_DEFAULTS.restartLimit.windowMs / 1000}s`,
};

describe("the README's corral.yaml reference", () => {
  const [file, service] = referenceRows();

  it("documents every field of the schema, and only those", () => {
    assert.ok(file && service, "two tables after #### Reference: the file's fields and a service's");
    assert.deepEqual([...file.keys()].sort(), Object.keys(corralFileSchema.shape).sort());
    const serviceFields = [
      ...Object.keys(serviceSchema.shape),
      // The probe kinds are described in the probe's own row; the rest have rows of their own.
      ...(
        [
          ["readiness", readinessSchema],
          ["liveness", livenessSchema],
          ["startup", startupSchema],
        ] as const
      ).flatMap(([name, schema]) =>
        Object.keys(schema.shape)
          .filter((key) => !["socket", "http", "exec"].includes(key))
          .map((key) => `${name}.${key}`),
      ),
      ...Object.keys(restartObjectSchema.shape).map((key) => `restart.${key}`),
      ...Object.keys(restartBackoffSchema.shape).map((key) => `restartBackoff.${key}`),
    ];
    assert.deepEqual([...service.keys()].sort(), serviceFields.sort());
  });

  it("states the code's defaults", () => {
    const rows = new Map([...file!, ...service!]);
    for (const [field, value] of Object.entries(DEFAULTS)) {
      assert.equal(rows.get(field), `\`${value}\``, `${field}: the README's default is the code's (${value})`);
    }
  });

  it("states them again in the example only as the code has them", () => {
    const example = README.slice(README.indexOf("### corral.yaml"), README.indexOf("#### Reference"));
    for (const [, field, stated] of example.matchAll(/^\s*(\w+):.*# default: (\S+)/gm)) {
      if (field! in DEFAULTS) assert.equal(stated, String(DEFAULTS[field!]), `${field} in the example`);
    }
  });
});
