// The crash-loop breaker through the real `corral` binary and daemon: a service
// that keeps failing fails `up -d` with its stderr, is stopped in
// offline (crash-loop) after maxRestarts, fails its dependent, and
// `corral restart` starts it again. Its readiness is a logLine probe.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { realProject } from "./project.js";

const CORRAL_YAML = `services:
  bad:
    command: sh
    # Fails until the file ok exists, saying why on stderr; once it starts it says so on stdout.
    args: ["-c", "if [ -f ok ]; then echo 'listening on 5432'; exec sleep 1000; fi; echo 'FATAL: could not bind: address in use' >&2; exit 1"]
    readiness: { logLine: "^listening on \\\\d+$$" }
    restart: { maxRestarts: 4, window: 1m, backoff: { initialMs: 20, maxMs: 100 } }
  web:
    command: sleep
    args: ["1000"]
    dependsOn: [bad]
`;

describe("crash-loop breaker through corral up and corral restart", { timeout: 300_000 }, () => {
  const project = realProject("corral-crashloop-");
  after(() => project.cleanup());

  it("5 failed starts: up -d fails with the stderr, the service is in crash-loop, its dependent fails, corral restart resets it", async () => {
    writeFileSync(join(project.dir, "corral.yaml"), CORRAL_YAML);
    const up = project.corral(["up", "-d"]);
    assert.notEqual(up.status, 0, up.stdout);
    assert.match(up.stderr, /bad-0 .*crash-looping/);
    assert.match(up.stderr, /bad-0 \| FATAL: could not bind: address in use/, "the process's last stderr lines");

    const rows = await project.waitForRows("bad in crash-loop", (r) =>
      r.some((row) => row.service === "bad" && row.reason === "crash-loop"),
    );
    // The dependent has a row (ps shows why it does not run) but no process.
    assert.ok(!rows.some((row) => row.service === "web" && row.pid !== null), "the dependent was not started");
    const ps = project.corral(["ps", "--json"]);
    const bad = (JSON.parse(ps.stdout) as { service: string; restarts: number; crashLooping: boolean; message: string }[]).find(
      (r) => r.service === "bad",
    )!;
    assert.equal(bad.restarts, 4);
    assert.equal(bad.crashLooping, true);
    assert.match(bad.message, /^5 failed starts within 60 s \(restart.maxRestarts: 4\)/);
    const table = project.corral(["ps"]);
    assert.match(table.stdout, /offline \(crash-loop\)/);

    // Nothing restarts it: a second up says so at once, and fails the dependent with it.
    const again = project.corral(["up", "-d"]);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /bad-0 is crash-looping, and no longer restarted: 5 failed starts/);
    assert.match(again.stderr, /failed, as they depend on bad: web/);
    assert.match(again.stderr, /bad-0 \| FATAL: could not bind/);
    assert.equal(project.ps().find((r) => r.service === "bad")?.reason, "crash-loop", "still in crash-loop: the apply left it alone");

    const metrics = await fetchMetrics(project.paths.socket);
    assert.match(metrics, /corral_process_crash_loop\{namespace="default",service="bad",process="0"\} 1/);

    writeFileSync(join(project.dir, "ok"), "");
    const restart = project.corral(["restart", "bad"]);
    assert.equal(restart.status, 0, restart.stderr);
    const online = await project.waitForRows("bad online", (r) => r.some((row) => row.service === "bad" && row.status === "online"));
    assert.ok(online.find((r) => r.service === "bad")?.pid);
    const after = await fetchMetrics(project.paths.socket);
    assert.match(after, /corral_process_crash_loop\{namespace="default",service="bad",process="0"\} 0/, "reset by the restart");
    assert.match(after, /corral_process_probe_success\{namespace="default",service="bad",process="0",probe="readiness"\} 1/);
    assert.match(after, /corral_process_probe_duration_seconds\{namespace="default",service="bad",process="0",probe="readiness"\} \d/);
    const up3 = project.corral(["up", "-d"]);
    assert.equal(up3.status, 0, up3.stderr);
    await project.waitForRows("web online", (r) => r.some((row) => row.service === "web" && row.status === "online"));
  });
});

async function fetchMetrics(socketPath: string): Promise<string> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: "/metrics" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(body));
    });
    req.once("error", reject);
    req.end();
  });
}
