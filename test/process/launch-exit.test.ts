// Pure parts of the launchers: exit classification, argv building, layout
// detection from mountinfo, and the v2 limit files (on a stand-in tree, since
// this machine's v2 tree has no controllers).
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { CpuLimit, MemoryLimit } from "../../src/contract/limits.js";
import {
  CgroupLauncher,
  classifyExit,
  cpuNanoCoresBetween,
  detectCgroupLayout,
  hierarchiesOf,
  parseMountInfo,
  shellQuote,
  systemdRunArgs,
} from "../../src/process/launch/index.js";
import { Tracker } from "../fixtures/launch-helpers/helpers.js";

const tracker = new Tracker();
after(() => tracker.cleanup());

describe("classifyExit", () => {
  test("SIGKILL with a higher oom_kill count is oom-killed", () => {
    assert.deepEqual(classifyExit({ code: null, signal: "SIGKILL", oomKillsBefore: 2, oomKillsAfter: 3 }), {
      reason: "oom-killed",
      exitCode: null,
      signal: "SIGKILL",
    });
  });
  test("SIGKILL without a higher count is a crash", () => {
    assert.equal(classifyExit({ code: null, signal: "SIGKILL", oomKillsBefore: 3, oomKillsAfter: 3 }).reason, "crashed");
    assert.equal(classifyExit({ code: null, signal: "SIGKILL" }).reason, "crashed");
  });
  test("a higher count with another signal is not an OOM kill", () => {
    assert.deepEqual(classifyExit({ code: null, signal: "SIGSEGV", oomKillsBefore: 0, oomKillsAfter: 1 }), {
      reason: "crashed",
      exitCode: null,
      signal: "SIGSEGV",
    });
  });
  test("status 137 from a wrapper that did not exec, with a higher count, is oom-killed", () => {
    assert.equal(classifyExit({ code: 137, signal: null, oomKillsBefore: 0, oomKillsAfter: 1 }).reason, "oom-killed");
    assert.deepEqual(classifyExit({ code: 137, signal: null, oomKillsBefore: 1, oomKillsAfter: 1 }), {
      reason: "exited",
      exitCode: 137,
      signal: null,
    });
  });
  test("codes", () => {
    assert.deepEqual(classifyExit({ code: 3, signal: null }), { reason: "exited", exitCode: 3, signal: null });
    assert.deepEqual(classifyExit({ code: 0, signal: null, oomKillsBefore: 0, oomKillsAfter: 1 }), {
      reason: "completed",
      exitCode: 0,
      signal: null,
    });
  });
});

describe("systemd-run argv", () => {
  test("limits as the seed writes them, CPUQuota rounded up", () => {
    assert.deepEqual(
      systemdRunArgs({
        program: "/img/x",
        args: ["--a", "b c"],
        memoryLimit: MemoryLimit.parse("512MiB"),
        cpuLimit: CpuLimit.parse("1234m"),
      }),
      ["--user", "--scope", "--quiet", "-p", "MemoryMax=536870912", "-p", "CPUQuota=124%", "/img/x", "--a", "b c"],
    );
    assert.deepEqual(systemdRunArgs({ program: "p", args: [], cpuLimit: CpuLimit.parse("1m") }), [
      "--user",
      "--scope",
      "--quiet",
      "-p",
      "CPUQuota=1%",
      "p",
    ]);
    assert.deepEqual(systemdRunArgs({ program: "p", args: ["x"] }), ["--user", "--scope", "--quiet", "p", "x"]);
  });
});

test("cpuNanoCoresBetween: a rate from two cumulative samples; unknown or reset counters give null", () => {
  const at = (ms: number) => BigInt(ms) * 1_000_000n;
  assert.equal(
    cpuNanoCoresBetween({ cpuNanos: 0, memoryBytes: 1, at: at(0) }, { cpuNanos: 250_000_000, memoryBytes: 1, at: at(500) }),
    500_000_000,
  );
  assert.equal(cpuNanoCoresBetween({ cpuNanos: 9, memoryBytes: 1, at: at(0) }, { cpuNanos: 1, memoryBytes: 1, at: at(500) }), null);
  assert.equal(cpuNanoCoresBetween({ cpuNanos: null, memoryBytes: 1, at: at(0) }, { cpuNanos: 1, memoryBytes: 1, at: at(500) }), null);
  assert.equal(cpuNanoCoresBetween({ cpuNanos: 0, memoryBytes: 1, at: at(5) }, { cpuNanos: 1, memoryBytes: 1, at: at(5) }), null);
});

test("shellQuote survives quotes and spaces", () => {
  assert.equal(shellQuote("a b"), "'a b'");
  assert.equal(shellQuote("it's"), "'it'\\''s'");
});

describe("layout detection", () => {
  const mountinfo = (lines: string[]) => lines.join("\n") + "\n";

  test("parses escaped mount points and super options", () => {
    const [e] = parseMountInfo("41 31 0:38 / /sys/fs/cgroup/a\\040b rw,relatime - cgroup cgroup rw,cpu,cpuacct\n");
    assert.deepEqual(e, {
      mountPoint: "/sys/fs/cgroup/a b",
      fsType: "cgroup",
      mountOptions: ["rw", "relatime"],
      superOptions: ["rw", "cpu", "cpuacct"],
    });
  });

  test("v1 with co-mounted cpu,cpuacct and a controller-less v2 tree is hybrid v1", async () => {
    const root = await tracker.tempDir();
    for (const d of ["memory", "cpu,cpuacct", "pids", "unified"]) await mkdir(join(root, d));
    await writeFile(join(root, "unified", "cgroup.controllers"), "\n");
    const info = join(root, "mountinfo");
    await writeFile(
      info,
      mountinfo([
        `30 1 0:27 / /proc rw - proc proc rw`,
        `32 31 0:29 / ${root}/memory rw,relatime - cgroup cgroup rw,memory`,
        `33 31 0:30 / ${root}/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct`,
        `34 31 0:31 / ${root}/pids rw,relatime - cgroup cgroup rw,pids`,
        `35 31 0:32 / ${root}/systemd rw,relatime - cgroup cgroup rw,name=systemd`,
        `41 31 0:38 / ${root}/unified rw,relatime - cgroup2 cgroup2 rw`,
      ]),
    );
    const { layout } = await detectCgroupLayout({ cgroupRoot: root, mountInfoPath: info });
    assert.ok(layout && layout.version === "v1");
    assert.equal(layout.cpu.mountPoint, join(root, "cpu,cpuacct"));
    assert.equal(layout.cpuacct?.mountPoint, join(root, "cpu,cpuacct"));
    assert.equal(layout.unified?.mountPoint, join(root, "unified"));
    assert.equal(layout.freezer, undefined);
    // Unified first: it is joined first, and it is where isPopulated looks.
    assert.deepEqual(hierarchiesOf(layout), [join(root, "unified"), join(root, "memory"), join(root, "cpu,cpuacct"), join(root, "pids")]);
  });

  test("v2 with memory and cpu controllers wins", async () => {
    const root = await tracker.tempDir();
    await writeFile(join(root, "cgroup.controllers"), "cpuset cpu io memory pids\n");
    const info = join(root, "mountinfo");
    await writeFile(info, mountinfo([`31 23 0:26 / ${root} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate`]));
    const { layout } = await detectCgroupLayout({ cgroupRoot: root, mountInfoPath: info });
    assert.equal(layout?.version, "v2");
  });

  test("read-only or missing hierarchies are unusable, with a reason", async () => {
    const root = await tracker.tempDir();
    await writeFile(join(root, "cgroup.controllers"), "cpu memory\n");
    const info = join(root, "mountinfo");
    await writeFile(info, mountinfo([`31 23 0:26 / ${root} ro,nosuid - cgroup2 cgroup2 rw`]));
    const ro = await detectCgroupLayout({ cgroupRoot: root, mountInfoPath: info });
    assert.equal(ro.layout, null);
    assert.match(ro.reason ?? "", /not writable/);
    const none = await detectCgroupLayout({ cgroupRoot: join(root, "nothing-here") });
    assert.equal(none.layout, null);
    assert.match(none.reason ?? "", /no cgroup/);
  });
});

test("v2 limits: memory.max, swap off, oom.group, cpu.max, pids.max; the child joins only the unified group", async () => {
  // A stand-in v2 tree on tmpfs: cgroupfs semantics are absent, but the files the
  // launcher writes, and what it reads back, are checked.
  const root = await tracker.tempDir();
  await writeFile(join(root, "cgroup.controllers"), "cpu memory pids\n");
  const launcher = new CgroupLauncher({
    version: "v2",
    unified: { mountPoint: root, controllers: ["cpu", "memory", "pids"], readOnly: false },
  });
  const req = { environmentId: "env", fullId: "ns-svc", processIndex: 1, program: "/bin/true", args: ["x y"] };
  const prep = await launcher.prepare({ ...req, memoryLimit: MemoryLimit.parse("64MiB"), cpuLimit: CpuLimit.parse("0.5"), pidsLimit: 32 });
  const dir = join(root, "corral", "env", "ns-svc-1");
  const read = (f: string) => readFile(join(dir, f), "utf8");
  assert.equal(await read("memory.max"), String(64 * 1024 * 1024));
  assert.equal(await read("memory.swap.max"), "0");
  assert.equal(await read("memory.oom.group"), "1");
  assert.equal(await read("cpu.max"), "50000 100000");
  assert.equal(await read("pids.max"), "32");
  assert.equal(await readFile(join(root, "cgroup.subtree_control"), "utf8"), "+pids", "the last controller written to the root");
  assert.equal(prep.command, "/bin/sh");
  assert.deepEqual(prep.args, ["-c", `echo $$ > '${dir}/cgroup.procs' || exit 125; exec "$@"`, "sh", "/bin/true", "x y"]);
  assert.equal(prep.cgroup?.name, "corral/env/ns-svc-1");
  assert.equal(prep.cgroup?.version, "v2");

  await writeFile(join(dir, "memory.events"), "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 1\n");
  assert.equal(await prep.cgroup?.oomKillCount(), 2);
  await writeFile(join(dir, "memory.current"), "1000000\n");
  await writeFile(join(dir, "memory.stat"), "anon 900000\nfile 100000\ninactive_file 40000\n");
  assert.equal(await prep.cgroup?.memoryBytes(), 960000);
  await writeFile(join(dir, "cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  assert.equal(await prep.cgroup?.cpuUsageNanos(), 1_500_000);

  // Relaunch without limits lifts them.
  await launcher.prepare(req);
  assert.equal(await read("memory.max"), "max");
  assert.equal(await read("memory.swap.max"), "max");
  assert.equal(await read("cpu.max"), "max 100000");
  assert.equal(await read("pids.max"), "max");
  assert.ok(await launcher.reopen(req));
  assert.equal(await launcher.reopen({ ...req, processIndex: 2 }), null);
});

test("names that could leave the corral tree are refused", async () => {
  const root = await tracker.tempDir();
  const launcher = new CgroupLauncher({ version: "v2", unified: { mountPoint: root, controllers: [], readOnly: false } });
  for (const bad of ["..", "a/b", "", ".hidden", "x\ny"]) {
    await assert.rejects(
      launcher.prepare({ environmentId: bad, fullId: "ns-svc", processIndex: 0, program: "true", args: [] }),
      /cannot name a cgroup/,
    );
    await assert.rejects(
      launcher.prepare({ environmentId: "env", fullId: bad, processIndex: 0, program: "true", args: [] }),
      /cannot name a cgroup/,
    );
  }
});
