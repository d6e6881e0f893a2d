// A secret's value against every way the daemon shows things: it reaches the
// process (as a file and as a variable) and, when it changes, the rolled
// processes; it never appears in an API answer (every GET route), an event, a
// log line or file, `corral ps`, the daemon's log or the dashboard — each
// searched for it. The dashboard masks plain env values too.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DaemonClient } from "../../src/cli/client.js";
import type { ServiceSpec } from "../../src/config/types.js";
import { ROUTES } from "../../src/server/http/routes-table.js";
import { secretStoredBody } from "../../src/server/wire.js";
import { IMAGES, isPidAlive, until } from "../helpers.js";
import { type Harness, ROOT, WAIT_MS, row, screenshot, startHarness } from "./harness.js";

const VALUE = "correct-horse-battery-staple";
const NEXT_VALUE = "tr0ub4dor-and-3-rotated";
const PLAIN = "plain-env-value-from-the-file";
const BIN = join(ROOT, "bin", "corral.js");

/** Every regular file under `dir`, except the places a secret is meant to be: the secrets store and the processes' secret files. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "secrets" || entry.name.endsWith(".secrets") ? [] : filesUnder(path);
    return entry.isFile() ? [path] : [];
  });
}

describe("a secret's value, wherever the daemon shows things", { timeout: 300_000 }, () => {
  let h: Harness;
  let client: DaemonClient;
  let out: string;
  const daemonLog: string[] = [];
  const events: string[] = [];
  const watching = new AbortController();
  // Not spawnSync: the daemon runs in this process and must answer meanwhile.
  const corral = (args: string[], input?: string) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args, "--state-dir", h.stateDir], { env: { ...process.env, NO_COLOR: "1" } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.once("error", reject);
      child.once("close", (status) => resolve({ status, stdout, stderr }));
      child.stdin.end(input ?? "");
    });
  const pids = () => h.daemon.namespace!.processStatuses().flatMap((s) => s.processes.map((p) => p.pid));

  before(async () => {
    h = await startHarness("secrets", { services: {}, daemon: { log: (line) => daemonLog.push(line) } });
    client = new DaemonClient({ socketPath: join(h.stateDir, "corral.sock") });
    out = join(h.stateDir, "out");
    void (async () => {
      for await (const event of client.events(watching.signal)) events.push(JSON.stringify(event));
    })().catch(() => {}); // ends with the abort in after(); what it collected is what is checked
  });
  after(async () => {
    watching.abort();
    await h?.cleanup();
  });

  it("reaches the processes as a file and a variable", async () => {
    const stored = await client.call("PUT", "/v1/secrets/db-password", { value: VALUE }, secretStoredBody);
    assert.deepEqual(stored, { id: "db-password", bytes: VALUE.length, rolled: [] }, "no service reads it yet");
    const app: ServiceSpec = {
      command: join(IMAGES, "secret-reporter"),
      args: ["db-password", out],
      ports: [],
      scale: 2,
      env: { API_TOKEN: PLAIN },
      secrets: ["db-password"],
      secretEnv: { SECRET_VALUE: "db-password" },
      labels: {},
      dependsOn: {},
    };
    await client.call("PUT", "/v1/services/app", app);
    await until(() => pids().length === 2 && pids().every((pid) => pid !== undefined && isPidAlive(pid)), "two processes", WAIT_MS);
    for (const i of [0, 1]) {
      await until(() => existsSync(`${out}-${i}.env`), `process ${i} reported`, WAIT_MS);
      assert.equal(readFileSync(`${out}-${i}.file`, "utf8"), VALUE);
      assert.equal(readFileSync(`${out}-${i}.env`, "utf8"), VALUE);
    }
    const dir = join(h.stateDir, "run", "default-app", "0.secrets");
    assert.equal(statSync(join(dir, "db-password")).mode & 0o777, 0o400);
  });

  it("a new value (from stdin) rolls the service that reads it, and reaches the new processes", async () => {
    const before = pids();
    const set = await corral(["secrets", "set", "db-password"], NEXT_VALUE);
    assert.equal(set.status, 0, set.stderr);
    assert.equal(set.stdout, "secret db-password set; rolled app\n");
    const after = pids();
    for (const [i, pid] of after.entries()) {
      assert.notEqual(pid, before[i], `process ${i} was replaced`);
      await until(() => readFileSync(`${out}-${i}.env`, "utf8") === NEXT_VALUE, `process ${i} got the new value`, WAIT_MS);
      assert.equal(readFileSync(`${out}-${i}.file`, "utf8"), NEXT_VALUE);
    }
    const again = await client.call("PUT", "/v1/secrets/db-password", { value: NEXT_VALUE }, secretStoredBody);
    assert.deepEqual(again.rolled, [], "the same value rolls nothing");
    assert.deepEqual(pids(), after);
  });

  it("is refused removal while read, and an unknown id is an error", async () => {
    const inUse = await corral(["secrets", "rm", "db-password"]);
    assert.equal(inUse.status, 1);
    assert.match(inUse.stderr, /secret "db-password" is read by app/);
    const unknown = await corral(["secrets", "rm", "no-such-secret"]);
    assert.equal(unknown.status, 1, unknown.stderr);
    assert.match(unknown.stderr, /no secret named "no-such-secret"/);
    await assert.rejects(client.call("DELETE", "/v1/secrets/no-such-secret"), (e: Error & { status?: number }) => e.status === 404);
  });

  it("appears in no API answer, event, log, ps output, file or daemon log line", async () => {
    const answers: [string, string][] = [];
    for (const route of Object.values(ROUTES)) {
      if (route.method !== "GET" || route.url === ROUTES.events.url) continue;
      // What corral run and exec start a command with carries the secrets' values on purpose: Unix socket (0600) only, never TCP.
      if (route.url === ROUTES.runSpec.url || route.url === ROUTES.execSpec.url) continue;
      const path = route.url.replace(":id", "app") + (route.url === ROUTES.logs.url ? "?tail=1000" : "");
      answers.push([path, await client.text(path)]);
    }
    assert.ok(answers.length >= 10, "every GET route");
    for (const args of [["ps"], ["ps", "--json"], ["logs", "app"], ["secrets", "list"]]) {
      const result = await corral(args);
      assert.equal(result.status, 0, result.stderr);
      answers.push([`corral ${args.join(" ")}`, result.stdout + result.stderr]);
    }
    assert.ok(events.length > 0, "events were seen");
    answers.push(["events", events.join("\n")], ["daemon log", daemonLog.join("\n")]);
    for (const file of filesUnder(h.stateDir)) if (!file.startsWith(out)) answers.push([file, readFileSync(file, "latin1")]);
    assert.ok(
      answers.some(([where]) => where.endsWith(".log")),
      "the processes' log files are searched",
    );
    for (const [where, text] of answers) {
      for (const value of [VALUE, NEXT_VALUE]) assert.ok(!text.includes(value), `${where} shows the secret`);
    }
    assert.match(
      answers.find(([where]) => where === "/v1/services/app")![1],
      /"secretEnv":\{"SECRET_VALUE":"db-password"\}/,
      "ids, not values",
    );
    // corral run's launch spec: the value over the 0600 Unix socket, nothing over TCP (even with the admin token).
    assert.ok(
      (await client.text(ROUTES.runSpec.url.replace(":id", "app"))).includes(NEXT_VALUE),
      "the Unix socket gives corral run the value",
    );
    for (const url of [ROUTES.runSpec.url.replace(":id", "app"), ROUTES.execSpec.url.replace(":id", "app").replace(":index", "0")]) {
      const answer = await fetch(`${h.base}${url}`, { headers: { authorization: `Bearer ${h.daemon.token}` } });
      const text = await answer.text();
      assert.equal(answer.status, 404, `${url} over TCP: ${text}`);
      assert.ok(!text.includes(NEXT_VALUE));
    }
  });

  it("appears on no dashboard page, and the configuration panel masks env values", async () => {
    await h.page.goto(`${h.base}/?token=${h.daemon.token}`);
    await h.page.locator(row("app-1", "online")).waitFor();
    const pages: string[] = [await h.page.content()];
    await h.page.goto(`${h.base}/#/services/app`);
    const config = h.page.locator("[data-config]", { hasText: "SECRET_VALUE: db-password" });
    await config.waitFor();
    const text = (await config.textContent()) ?? "";
    assert.match(text, /API_TOKEN: ••••••/, "plain env values are masked");
    assert.ok(!text.includes(PLAIN));
    await screenshot(h.page, "service-secrets");
    pages.push(await h.page.content());
    await h.page.goto(`${h.base}/#/services/app/logs`);
    await h.page.locator("[data-log-state]").waitFor();
    pages.push(await h.page.content());
    await h.page.goto(`${h.base}/#/secrets`);
    await h.page.locator('tr[data-secret="db-password"]').waitFor();
    pages.push(await h.page.content());
    for (const page of pages) {
      for (const value of [VALUE, NEXT_VALUE, PLAIN]) assert.ok(!page.includes(value), `a dashboard page shows ${value}`);
    }
  });
});
