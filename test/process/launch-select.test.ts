// The systemd and direct launchers, and which launcher "auto" picks. systemd is
// not on these machines: stand-ins for systemd-run and systemctl (test/fixtures/
// launch-systemd) take its place on PATH.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { CpuLimit, MemoryLimit } from "../../src/contract/limits.js";
import {
  DirectLauncher,
  SystemdLauncher,
  detectCgroupLayout,
  selectLauncher,
  systemdUserManagerAvailable,
} from "../../src/process/launch/index.js";
import { Tracker, uniqueEnvironmentId } from "../fixtures/launch-helpers/helpers.js";

const tracker = new Tracker();
after(() => tracker.cleanup());

const environmentId = uniqueEnvironmentId();
const hostCgroups = await detectCgroupLayout();
const fallback = hostCgroups.layout ? "cgroup" : "direct";

describe("systemd launcher", () => {
  test("runs the seed's systemd-run command line; the stand-in on PATH records the exact argv", async () => {
    const bin = await tracker.tempDir();
    await tracker.installFixture("launch-systemd/systemd-run", bin, "systemd-run");
    const record = join(bin, "argv");
    const launcher = await selectLauncher("systemd");
    assert.equal(launcher.kind, "systemd");
    const prep = await launcher.prepare({
      environmentId,
      fullId: "ns-svc",
      processIndex: 0,
      program: "/bin/sh",
      args: ["-c", 'printf "%s|" "$@"; echo', "sh", "two words", "it's", ""],
      memoryLimit: MemoryLimit.parse("256MiB"),
      cpuLimit: CpuLimit.parse("250m"),
    });
    assert.equal(prep.command, "systemd-run");
    assert.equal(prep.cgroup, undefined);
    assert.equal(prep.warning, undefined);
    const child = tracker.start(prep, { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, SYSTEMD_RUN_RECORD: record } });
    const exit = await child.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, child.stderr());
    assert.equal(child.stdout(), "two words|it's||\n", "the program got its arguments untouched");
    const argv = (await readFile(record, "utf8")).split("\0").slice(0, -1);
    assert.deepEqual(argv, [
      "--user",
      "--scope",
      "--quiet",
      "-p",
      "MemoryMax=268435456",
      "-p",
      "CPUQuota=25%",
      "/bin/sh",
      "-c",
      'printf "%s|" "$@"; echo',
      "sh",
      "two words",
      "it's",
      "",
    ]);
  });

  test("systemdRunPath replaces the binary; no limits, no -p", async () => {
    const bin = await tracker.tempDir();
    const path = await tracker.installFixture("launch-systemd/systemd-run", bin, "my-systemd-run");
    const record = join(bin, "argv");
    const launcher = await selectLauncher("systemd", { systemdRunPath: path });
    const prep = await launcher.prepare({ environmentId, fullId: "ns-svc", processIndex: 3, program: "/bin/echo", args: ["hi"] });
    assert.equal(prep.command, path);
    const child = tracker.start(prep, { env: { ...process.env, SYSTEMD_RUN_RECORD: record } });
    assert.deepEqual(await child.exited, { code: 0, signal: null });
    assert.equal(child.stdout(), "hi\n");
    assert.deepEqual((await readFile(record, "utf8")).split("\0").slice(0, -1), ["--user", "--scope", "--quiet", "/bin/echo", "hi"]);
    assert.equal(await launcher.reopen({ environmentId, fullId: "ns-svc", processIndex: 3 }), null);
  });
});

describe("direct launcher", () => {
  test("runs the program as given and warns when limits were asked for", async () => {
    const launcher = await selectLauncher("direct");
    assert.equal(launcher.kind, "direct");
    const plain = await launcher.prepare({ environmentId, fullId: "ns-svc", processIndex: 0, program: "/bin/echo", args: ["a", "b"] });
    assert.deepEqual(plain, { command: "/bin/echo", args: ["a", "b"], oomKillsBefore: 0 });
    const child = tracker.start(plain);
    assert.deepEqual(await child.exited, { code: 0, signal: null });
    assert.equal(child.stdout(), "a b\n");
    const limited = await launcher.prepare({
      environmentId,
      fullId: "ns-svc",
      processIndex: 0,
      program: "/bin/echo",
      args: [],
      memoryLimit: MemoryLimit.parse("1GiB"),
      cpuLimit: CpuLimit.parse("1.5"),
    });
    assert.match(limited.warning ?? "", /memoryLimit 1GiB and cpuLimit 1500m not enforced/);
    assert.equal(await launcher.reopen({ environmentId, fullId: "ns-svc", processIndex: 0 }), null);
  });
});

describe("auto selection", () => {
  const probeSetup = async (systemctl: string) => {
    const dir = await tracker.tempDir();
    const marker = join(dir, "run-systemd-system");
    await mkdir(marker);
    const systemctlPath = await tracker.installFixture(`launch-systemd/${systemctl}`, dir, "systemctl");
    return { marker, systemctlPath, missing: join(dir, "no-such-marker") };
  };

  test("systemd when booted with systemd and the user manager answers (running or degraded)", async () => {
    for (const stand of ["systemctl-running", "systemctl-degraded"]) {
      const { marker, systemctlPath } = await probeSetup(stand);
      const l = await selectLauncher("auto", { systemdBootedMarker: marker, systemctlPath });
      assert.equal(l.kind, "systemd", stand);
      assert.ok(l instanceof SystemdLauncher);
    }
  });

  test("not systemd without the boot marker, even if systemctl answers", async () => {
    const { missing, systemctlPath } = await probeSetup("systemctl-running");
    assert.equal(await systemdUserManagerAvailable({ bootedMarker: missing, systemctlPath }), false);
    assert.equal((await selectLauncher("auto", { systemdBootedMarker: missing, systemctlPath })).kind, fallback);
  });

  test("not systemd when no user manager answers (this machine's 'No medium found')", async () => {
    const { marker, systemctlPath } = await probeSetup("systemctl-offline");
    assert.equal((await selectLauncher("auto", { systemdBootedMarker: marker, systemctlPath })).kind, fallback);
  });

  test("a user manager that hangs is given up on after the timeout", async () => {
    const { marker, systemctlPath } = await probeSetup("systemctl-hangs");
    const t0 = Date.now();
    const l = await selectLauncher("auto", { systemdBootedMarker: marker, systemctlPath, systemdProbeTimeoutMs: 300 });
    assert.equal(l.kind, fallback);
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  });

  test("a missing systemctl is no user manager", async () => {
    const { marker } = await probeSetup("systemctl-running");
    assert.equal(await systemdUserManagerAvailable({ bootedMarker: marker, systemctlPath: join(marker, "nope") }), false);
  });

  test("on this host (no systemd, writable v1 cgroups) auto picks cgroup", async (t) => {
    if (existsSync("/run/systemd/system")) return t.skip("host runs systemd");
    const l = await selectLauncher("auto");
    assert.equal(l.kind, fallback);
    if (!hostCgroups.layout) t.diagnostic(`cgroups unusable here: ${hostCgroups.reason ?? ""}`);
  });

  test("direct, with a reason in its warning, when cgroups are unusable too", async () => {
    const { missing, systemctlPath } = await probeSetup("systemctl-offline");
    const empty = await tracker.tempDir();
    const l = await selectLauncher("auto", { systemdBootedMarker: missing, systemctlPath, cgroupRoot: empty });
    assert.equal(l.kind, "direct");
    assert.ok(l instanceof DirectLauncher);
    const prep = await l.prepare({
      environmentId,
      fullId: "ns-svc",
      processIndex: 0,
      program: "x",
      args: [],
      memoryLimit: MemoryLimit.parse("64MiB"),
    });
    assert.match(prep.warning ?? "", /memoryLimit 64MiB not enforced: no systemd user manager, and cgroups are unusable \(no cgroup/);
  });

  test("an explicit cgroup launcher where cgroups are unusable is an error, not a silent fallback", async () => {
    const empty = await tracker.tempDir();
    await assert.rejects(
      selectLauncher("cgroup", { cgroupRoot: empty }),
      /cgroup launcher unavailable: no cgroup with the memory and cpu controllers/,
    );
  });
});
