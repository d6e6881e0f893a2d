// user and group on Kubernetes: numeric ids become the pod's securityContext;
// names, volumes and socket directories (process-backend features) are refused.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ValidationError } from "../../src/contract/errors.js";
import type { ServiceConfig } from "../../src/contract/types.js";
import { renderManifests } from "../../src/kubernetes/index.js";
import { schemaProblems } from "./schema-check.js";

const base: ServiceConfig = { image: "postgres:15", scale: 1, ports: [{ name: "sql" }] };

describe("user and group on Kubernetes", () => {
  test("a numeric user and group are the pod's runAsUser and runAsGroup", () => {
    const { statefulSet } = renderManifests("default", "pg", { ...base, user: 999, group: "998" });
    assert.deepEqual(statefulSet.spec?.template.spec?.securityContext, { runAsUser: 999, runAsGroup: 998 });
    assert.deepEqual(schemaProblems(statefulSet, "V1StatefulSet"), []);
    const plain = renderManifests("default", "pg", base).statefulSet;
    assert.equal(plain.spec?.template.spec?.securityContext, undefined, "no user, no securityContext");
  });

  const refused: [string, ServiceConfig, string][] = [
    ["a user name", { ...base, user: "postgres" }, "user"],
    ["a group name", { ...base, user: 999, group: "postgres" }, "group"],
    ["volumes", { ...base, volumes: ["pgdata"] }, "volumes"],
    ["a socketDir port", { ...base, ports: [{ name: "sql", socketDir: true, socketFile: ".s.PGSQL.5432" }] }, "ports.sql.socketDir"],
  ];
  for (const [what, config, field] of refused) {
    test(`refuses ${what}`, () => {
      assert.throws(
        () => renderManifests("default", "pg", config),
        (error: unknown) => error instanceof ValidationError && error.field === field,
      );
    });
  }
});
