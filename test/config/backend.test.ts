import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseConfig, toServiceConfig } from "../../src/config/index.js";
import { EXECUTABLE, configError, project } from "./helpers.js";

describe("backend: kubernetes in corral.yaml", () => {
  it("turns command into image and records the cluster target", (t) => {
    const dir = project(t, {});
    const state = parseConfig(
      `backend: kubernetes
kubeconfig: kube/config
kubernetesNamespace: shop
services:
  web:
    image: ghcr.io/acme/web:1.2
    args: ["--listen", "%P:http"]
    ports: [http]
    scale: 3
`,
      { file: "corral.yaml", baseDir: dir },
    );
    assert.equal(state.backend, "kubernetes");
    assert.deepEqual(state.kubernetes, { kubeconfig: join(dir, "kube/config"), namespace: "shop" });
    assert.equal(state.services.web!.image, "ghcr.io/acme/web:1.2");
    assert.equal(state.services.web!.command, undefined);
    assert.equal(state.services.web!.workingDirectory, undefined, "paths on this machine mean nothing in a container");
    assert.equal(toServiceConfig(state.services.web!, { namespace: "default", serviceId: "web" }).image, "ghcr.io/acme/web:1.2");
  });

  it("names the field when the file mixes the backends' fields", (t) => {
    const dir = project(t, { "bin/app": EXECUTABLE });
    const parse = (text: string) => configError(() => parseConfig(text, { file: "corral.yaml", baseDir: dir })).message;
    assert.equal(
      parse("backend: kubernetes\nservices:\n  web:\n    image: nginx\n    command: ./bin/app\n"),
      "corral.yaml:5:5: services.web.command: is for backend: process; with backend: kubernetes give image",
    );
    assert.equal(
      parse("backend: kubernetes\nservices:\n  web:\n    scale: 2\n"),
      "corral.yaml:3:3: services.web.image: is required with backend: kubernetes",
    );
    assert.equal(
      parse("services:\n  web:\n    image: nginx\n    command: ./bin/app\n"),
      "corral.yaml:3:5: services.web.image: is for backend: kubernetes; with backend: process give command",
    );
    assert.equal(
      parse("kubernetesNamespace: shop\nservices:\n  web:\n    command: ./bin/app\n"),
      "corral.yaml:1:1: kubernetesNamespace: is only for backend: kubernetes",
    );
    assert.equal(parse("backend: swarm\nservices: {}\n"), "corral.yaml:1:10: backend: must be process or kubernetes");
  });
});
