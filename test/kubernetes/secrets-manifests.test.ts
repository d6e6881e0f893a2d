// Secrets on Kubernetes: `secrets` become a projected volume of the secrets
// controller's Secrets, mounted where %C (assignments.secretsDirectory) and
// CORRAL_SECRETS_DIR say, and `secretEnv` becomes secretKeyRef variables; the
// result passes the Kubernetes schemas.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { ServiceConfig } from "../../src/contract/types.js";
import { renderManifests } from "../../src/kubernetes/index.js";
import { schemaProblems } from "./schema-check.js";

const config: ServiceConfig = {
  image: "postgres:15",
  args: (a) => ["--password-file", `${a.secretsDirectory}/db-password`],
  scale: 2,
  env: { PGUSER: "app" },
  secrets: ["db-password", "tls-key"],
  secretEnv: { PGPASSWORD: "db-password" },
};

describe("secrets in rendered manifests", () => {
  test("files from a projected volume at the secrets directory, variables from secretKeyRef", () => {
    const { statefulSet } = renderManifests("default", "pg", config, { namePrefix: "env1-", secretsDirectory: "/run/creds" });
    new StatefulSet(statefulSet as ConstructorParameters<typeof StatefulSet>[0]).validate();
    assert.deepEqual(schemaProblems(statefulSet, "V1StatefulSet"), []);
    const pod = statefulSet.spec!.template.spec!;
    const container = pod.containers[0]!;
    assert.deepEqual(container.args, ["--password-file", "/run/creds/db-password"], "%C is the mount path");
    assert.deepEqual(container.volumeMounts, [{ name: "secrets", mountPath: "/run/creds", readOnly: true }]);
    assert.deepEqual(pod.volumes, [
      {
        name: "secrets",
        projected: {
          defaultMode: 0o400,
          sources: [
            { secret: { name: "env1-corral-secret-db-password", items: [{ key: "contents", path: "db-password" }] } },
            { secret: { name: "env1-corral-secret-tls-key", items: [{ key: "contents", path: "tls-key" }] } },
          ],
        },
      },
    ]);
    assert.deepEqual(container.env, [
      { name: "CORRAL_SECRETS_DIR", value: "/run/creds" },
      { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: "env1-corral-secret-db-password", key: "contents" } } },
      { name: "PGUSER", value: "app" },
    ]);
  });

  test("the default directory, and readable files for a non-root pod", () => {
    const { statefulSet } = renderManifests("default", "pg", config, { schedulingConfig: { securityContextEnabled: true } });
    const pod = statefulSet.spec!.template.spec!;
    assert.equal(pod.containers[0]!.volumeMounts?.[0]?.mountPath, "/run/secrets/corral");
    assert.equal(pod.volumes?.[0]?.projected?.defaultMode, 0o444);
    assert.deepEqual(schemaProblems(statefulSet, "V1StatefulSet"), []);
  });

  test("a service without secrets renders as before: no volume, no variable", () => {
    const { statefulSet } = renderManifests("default", "web", { image: "nginx:1", scale: 1, env: { A: "1" } });
    const pod = statefulSet.spec!.template.spec!;
    assert.equal(pod.volumes, undefined);
    assert.deepEqual(pod.containers[0]!.env, [{ name: "A", value: "1" }]);
  });
});
