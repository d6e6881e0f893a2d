// What Prometheus reads, driven over the daemon's real TCP listener: its read-only
// token reads metrics, discovery, state and events, and nothing that holds a
// secret or changes anything; discovery lists only the ports marked as metrics.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Daemon } from "../../src/server/daemon.js";
import { discoveryBody } from "../../src/server/wire.js";
import { IMAGES, killEnvironment } from "../helpers.js";

describe("the read-only token", () => {
  let stateDir: string;
  let daemon: Daemon;
  let base: string;
  let admin: string;
  let read: string;
  const environment = `read-token-${process.pid}`;
  const call = (token: string, method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  before(async () => {
    stateDir = realpathSync(mkdtempSync(join(tmpdir(), "corral-read-token-")));
    daemon = await Daemon.start({ stateDir, environment, tcp: { host: "127.0.0.1", port: 0 } });
    base = `http://${daemon.tcpAddress}`;
    admin = readFileSync(join(stateDir, "token"), "utf8").trim();
    read = readFileSync(join(stateDir, "token.read"), "utf8").trim();
    const put = await call(admin, "PUT", "/v1/secrets/db-password", { value: "s3cret" });
    assert.equal(put.status, 200, await put.text());
  });
  after(async () => {
    await daemon.shutdown({ stopServices: true });
    killEnvironment(environment);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("is its own file, 0600, and not the admin token", () => {
    assert.equal(statSync(join(stateDir, "token.read")).mode & 0o777, 0o600);
    assert.ok(read.length >= 32);
    assert.notEqual(read, admin);
  });

  it("gets 200 on metrics, discovery, state, processes and health", async () => {
    for (const path of ["/metrics", "/v1/discovery/prometheus", "/v1/state", "/v1/processes", "/healthz", "/v1/services"]) {
      const answer = await call(read, "GET", path);
      assert.equal(answer.status, 200, `${path}: ${await answer.text()}`);
    }
    const events = await call(read, "GET", "/v1/events");
    assert.equal(events.status, 200);
    assert.match(events.headers.get("content-type") ?? "", /text\/event-stream/);
    await events.body?.cancel();
  });

  it("gets 403, naming the admin token, on secrets, apply, scale and shutdown; nothing changes", async () => {
    const refused: [string, string, unknown?][] = [
      ["GET", "/v1/secrets"],
      ["PUT", "/v1/secrets/db-password", { value: "changed" }],
      ["DELETE", "/v1/secrets/db-password"],
      ["POST", "/v1/apply", { environment, namespace: "default", services: {} }],
      ["POST", "/v1/services/web/scale", { scale: 2 }],
      ["POST", "/v1/shutdown", {}],
      ["GET", "/v1/services/web/run-spec"],
    ];
    for (const [method, path, body] of refused) {
      const answer = await call(read, method, path, body);
      assert.equal(answer.status, 403, `${method} ${path}`);
      const { error } = (await answer.json()) as { error: string };
      assert.match(error, /read-only token/);
      assert.match(error, /admin token/);
    }
    const secrets = await call(admin, "GET", "/v1/secrets");
    assert.deepEqual(await secrets.json(), ["db-password"], "the secret is still there");
    assert.equal((await call(admin, "GET", "/healthz")).status, 200, "the daemon still serves");
  });

  it("discovery lists only the ports a service marks as metrics, with __metrics_path__", async () => {
    const service = (metrics?: { port: string; path: string }) => ({
      command: join(IMAGES, "server.mjs"),
      args: ["%P:db", "%I"],
      ports: [{ name: "db" }, { name: "stats" }],
      scale: 2,
      env: {},
      labels: {},
      dependsOn: {},
      ...(metrics ? { metrics } : {}),
    });
    const applied = await call(admin, "POST", "/v1/apply", {
      environment,
      namespace: "default",
      services: { scraped: service({ port: "stats", path: "/stats" }), database: service() },
    });
    assert.equal(applied.status, 200, await applied.text());
    const answer = await call(read, "GET", "/v1/discovery/prometheus");
    const targets = discoveryBody.parse(await answer.json());
    assert.deepEqual(
      targets.map((t) => [
        t.labels.mz_orchestrator_service_id,
        t.labels.mz_orchestrator_port,
        t.labels.mz_orchestrator_ordinal,
        t.labels.__metrics_path__,
      ]),
      [
        ["scraped", "stats", "0", "/stats"],
        ["scraped", "stats", "1", "/stats"],
      ],
    );
    for (const t of targets) assert.match(t.targets[0]!, /^127\.0\.0\.1:\d+$/);
    const wrong = await call(admin, "POST", "/v1/apply", {
      environment,
      namespace: "default",
      services: { scraped: service({ port: "nope", path: "/stats" }) },
    });
    assert.equal(wrong.status, 400);
    const refusal = (await wrong.json()) as { field: string; rule: string };
    assert.equal(refusal.field, "services.scraped.metrics.port");
    assert.match(refusal.rule, /must name one of the service's ports \(declared: db, stats\)/);
  });

  it("a wrong token is still 401", async () => {
    assert.equal((await call(`${read}x`, "GET", "/metrics")).status, 401);
  });
});
