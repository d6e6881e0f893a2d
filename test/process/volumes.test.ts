// Named volumes on the process backend: directories in volumeDirectory that
// services share, that outlive every service, and that go only by name.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ValidationError } from "../../src/contract/errors.js";
import { nextEvent, orchestratorPerSuite } from "../helpers.js";

describe("named volumes", () => {
  const suite = orchestratorPerSuite("volumes");

  it("are shared by the services that name them, kept when they go, and removed only by name", async () => {
    const { orchestrator } = suite;
    const ns = orchestrator.namespace("v");
    const events = ns.watchServices();
    const volume = join(orchestrator.config.volumeDirectory, "shared");
    // The writer is a one-shot job; the reader sees what it wrote, through its own variable.
    await ns.ensureService("writer", {
      image: "/bin/sh",
      args: (a) => ["-c", `echo written > ${a.volumes!.shared}/note`],
      scale: 1,
      restartPolicy: "never",
      volumes: ["shared"],
    });
    await nextEvent(events, (e) => e.serviceId === "writer" && e.reason === "completed");
    await ns.ensureService("reader", {
      image: "/bin/sh",
      args: () => ["-c", 'cp "$CORRAL_VOLUME_SHARED/note" "$CORRAL_VOLUME_SHARED/seen"'],
      scale: 1,
      restartPolicy: "never",
      volumes: ["shared"],
    });
    await nextEvent(events, (e) => e.serviceId === "reader" && e.reason === "completed");
    assert.equal(readFileSync(join(volume, "seen"), "utf8"), "written\n");
    assert.deepEqual(await orchestrator.listVolumes(), ["shared"]);

    await assert.rejects(
      orchestrator.removeVolume("shared"),
      (error: unknown) => error instanceof ValidationError && error.field === "volume" && /reader, writer/.test(error.rule),
    );
    await ns.dropService("writer");
    await ns.dropService("reader");
    assert.ok(existsSync(join(volume, "note")), "dropping the services keeps the volume and its data");
    await orchestrator.removeVolume("shared");
    assert.ok(!existsSync(volume), "removeVolume removes it");
    assert.deepEqual(await orchestrator.listVolumes(), []);
    await orchestrator.removeVolume("shared"); // an unknown name is fine
    await events.return!();
  });

  it("refuses a bad volume name before anything starts", async () => {
    await assert.rejects(
      suite.orchestrator.namespace("v").ensureService("bad", { image: "sleeper", scale: 1, volumes: ["Not_A_Name"] }),
      (error: unknown) => error instanceof ValidationError && error.field === "volumes[0]",
    );
    await assert.rejects(
      suite.orchestrator.namespace("v").ensureService("bad", { image: "sleeper", scale: 1, volumes: ["a", "a"] }),
      (error: unknown) => error instanceof ValidationError && error.field === "volumes[1]",
    );
  });
});
