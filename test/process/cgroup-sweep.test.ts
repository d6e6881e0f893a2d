// cgroups are never left behind: a host SIGKILLed with processes in its groups
// leaves them; once those processes are gone too, the next host of the
// environment removes the empty groups and the environment's tree, in every
// hierarchy, and a close that stops everything removes the tree as well.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { hostScopeOf } from "../../src/process/config.js";
import { detectCgroupLayout, hierarchiesOf } from "../../src/process/launch/cgroup-layout.js";
import { FIXTURES, isPidAlive, testEnvironment, until } from "../helpers.js";

describe("cgroups are never left behind", async () => {
  const { layout } = await detectCgroupLayout();
  it(
    "the next host removes the group tree a SIGKILLed host left; close removes it too",
    { skip: layout ? false : "no usable cgroups" },
    async (t) => {
      const env = testEnvironment("sweep");
      t.after(() => env.cleanup());
      // The environment's groups are named per state dir (<env>-<hash>), as the launcher names them.
      const scope = hostScopeOf(env.environmentId, env.config.stateDir!);
      const trees = () => hierarchiesOf(layout!).map((mount) => join(mount, "corral", scope));
      const host = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          join(FIXTURES, "host.ts"),
          JSON.stringify({
            orchestrator: { ...env.config, launcher: "cgroup" },
            services: [{ namespace: "c", id: "s", image: "sleeper", scale: 2 }],
          }),
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      // Even when an assertion fails before the test kills it: a live host would keep the test run waiting.
      t.after(() => host.kill("SIGKILL"));
      let out = "";
      host.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
      await until(() => out.includes('"ready":true') || host.exitCode !== null, "the host to start its processes", 60_000);
      assert.ok(
        trees().every((tree) => existsSync(tree)),
        "the environment has its groups in every hierarchy",
      );
      host.kill("SIGKILL");
      await once(host, "exit");
      // The processes go too (a machine-wide kill, an OOM): the groups stay, empty.
      const pids = env.processes();
      for (const pid of pids) process.kill(pid, "SIGKILL");
      await until(() => pids.every((pid) => !isPidAlive(pid)), "the processes to be gone");
      assert.ok(
        trees().some((tree) => existsSync(tree)),
        "the SIGKILLed host left its group tree",
      );

      const next = await env.create({ launcher: "cgroup" });
      assert.deepEqual(
        trees().filter((tree) => existsSync(tree)),
        [],
        "the next host removed the empty tree",
      );
      await next.namespace("c").ensureService("s", { image: "sleeper", scale: 1 });
      assert.ok(trees().every((tree) => existsSync(tree)));
      await next.close();
      assert.deepEqual(
        trees().filter((tree) => existsSync(tree)),
        [],
        "close removed the tree",
      );
    },
  );
});
