// `shell:` services under the real binary and daemon: a simple command is the
// supervised process itself (its /proc cmdline is the program's, not sh -c)
// and gets the stop signal; a compound one keeps sh as the parent, and its
// program still gets the stop signal (a trap writes which one), with the
// placeholders filled in.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { IMAGES, isPidAlive, until } from "../helpers.js";
import { realProject } from "./project.js";

const GRACEFUL = join(IMAGES, "graceful");

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);

describe("shell: command lines", { timeout: 180_000 }, () => {
  it("a simple line is exec'd (the pid is the program's) and a compound one passes the stop signal on", async (t) => {
    const project = realProject("corral-shell-");
    t.after(() => project.cleanup());
    const file = (name: string) => join(project.dir, name);
    writeFileSync(
      join(project.dir, "corral.yaml"),
      `environment: ${project.environment}
services:
  simple:
    shell: "READY_FILE=${file("simple-ready")} ${GRACEFUL} ${file("simple-stopped")}"
  compound:
    shell: "echo %P:http > ${file("address")} && READY_FILE=${file("compound-ready")} ${GRACEFUL} ${file("compound-stopped")}"
    ports: [http]
`,
    );
    const up = project.corral(["up", "-d"]);
    assert.equal(up.status, 0, `${up.stdout}\n${up.stderr}`);
    await until(() => existsSync(file("simple-ready")) && existsSync(file("compound-ready")), "both programs' traps in place");
    const rows = project.ps();
    const pid = (service: string) => rows.find((r) => r.service === service)!.pid!;

    // The program's own interpreter line (graceful is a #!/bin/sh script): no `sh -c` in between.
    assert.deepEqual(cmdline(pid("simple")), ["/bin/sh", GRACEFUL, file("simple-stopped")]);
    const compound = cmdline(pid("compound"));
    assert.deepEqual(compound.slice(0, 2), ["/bin/sh", "-c"], "a compound line keeps sh as the parent");
    assert.match(compound[2]!, /&& READY_FILE=/);
    assert.equal(readFileSync(file("address"), "utf8").trim(), rows.find((r) => r.service === "compound")!.addresses.http);

    const stop = project.corral(["stop"]);
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(readFileSync(file("simple-stopped"), "utf8").trim(), "TERM", "the program got the stop signal");
    assert.equal(readFileSync(file("compound-stopped"), "utf8").trim(), "TERM", "the program below sh got it too");
    for (const service of ["simple", "compound"]) assert.ok(!isPidAlive(pid(service)), `${service}'s process is gone`);
    assert.deepEqual(project.processes(), [], "nothing of the project runs");
  });
});
