// The one mapping of coded errors to HTTP, the daemon's log of survivable
// failures, and a desired.json that fails the schema.
import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { NotFoundError, ResourceError, RolloutError, UnknownServiceError, ValidationError } from "../../src/contract/errors.js";
import { Daemon } from "../../src/server/daemon.js";
import { errorReply } from "../../src/server/http/errors.js";
import { reportSurvivable } from "../../src/util/diagnostics.js";

describe("coded errors map to HTTP once", () => {
  it("gives each class its status and the detail a client needs", () => {
    assert.deepEqual(errorReply(new ValidationError("services.web.scale", "must be a positive integer")), {
      status: 400,
      body: {
        error: "services.web.scale: must be a positive integer",
        field: "services.web.scale",
        rule: "must be a positive integer",
        code: "CORRAL_ERR_VALIDATION",
      },
    });
    assert.equal(errorReply(new UnknownServiceError("web")).status, 404);
    assert.equal(errorReply(new NotFoundError("secret", "db")).status, 404);
    const rollout = errorReply(new RolloutError("web", 1, "crashed"));
    assert.equal(rollout.status, 409);
    assert.deepEqual([rollout.body.service, rollout.body.process, rollout.body.code], ["web", 1, "CORRAL_ERR_ROLLOUT"]);
    assert.equal(errorReply(new ResourceError("write log", "ENOSPC")).status, 507);
    assert.equal(errorReply(new ResourceError("open socket", "EMFILE")).status, 503);
    assert.equal(errorReply(new Error("a bug")).status, 500);
  });
});

describe("the daemon's log", () => {
  it("gets one line per survivable failure reported anywhere in the process, until it shuts down", async () => {
    const stateDir = realpathSync(mkdtempSync(join(tmpdir(), "corral-log-")));
    const lines: string[] = [];
    const daemon = await Daemon.start({ stateDir, environment: `log-${process.pid}`, log: (line) => lines.push(line) });
    try {
      reportSurvivable("process.cgroup", "remove group", new Error("EBUSY: group busy\nsecond line"), { service: "web", process: 0 });
      assert.deepEqual(lines, ["corral: survived process.cgroup remove group (service=web process=0): EBUSY: group busy second line"]);
    } finally {
      await daemon.shutdown();
      rmSync(stateDir, { recursive: true, force: true });
    }
    reportSurvivable("process.cgroup", "remove group", new Error("after shutdown"));
    assert.equal(lines.length, 1, "a stopped daemon no longer listens");
  });
});

describe("desired.json read back from disk", () => {
  it("is checked with the schema: a daemon finding one that fails it starts without it and names the file and field", async () => {
    const stateDir = realpathSync(mkdtempSync(join(tmpdir(), "corral-desired-")));
    try {
      const environment = `desired-${process.pid}`;
      writeFileSync(
        join(stateDir, "desired.json"),
        JSON.stringify({ environment, namespace: "default", services: { web: { scale: -1 } } }),
      );
      const daemon = await Daemon.start({ stateDir, environment, log: () => {} });
      assert.equal(daemon.state, null);
      assert.match(daemon.problems.join("\n"), new RegExp(`${join(stateDir, "desired.json")}: services\\.web\\.scale`));
      await daemon.shutdown();
      writeFileSync(join(stateDir, "desired.json"), "{ half");
      const again = await Daemon.start({ stateDir, environment, log: () => {} });
      assert.match(again.problems.join("\n"), /must be JSON/);
      await again.shutdown();
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
