import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { interpolateArgs, toServiceConfig, type ServiceSpec } from "../../src/config/index.js";
import { CpuLimit, DiskLimit, MemoryLimit } from "../../src/contract/limits.js";
import { ValidationError } from "../../src/contract/errors.js";

function spec(overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return { command: "/usr/bin/true", args: [], ports: [], scale: 1, env: {}, labels: {}, dependsOn: {}, ...overrides };
}

const assignments = (processIndex: number, listenAddrs: Record<string, string>) => ({
  processIndex,
  listenAddrs,
  peerAddrs: [listenAddrs],
});

describe("toServiceConfig", () => {
  it("interpolates %P:<port>, %N and %I per process", () => {
    const config = toServiceConfig(spec({ args: ["--listen", "%P:sql", "--name=%N-%I", "%I%I", "100%", "%X"], ports: [{ name: "sql" }] }), {
      namespace: "default",
      serviceId: "db",
    });
    assert.deepEqual(config.args!(assignments(0, { sql: "/run/sql-0" })), [
      "--listen",
      "/run/sql-0",
      "--name=default-db-0",
      "00",
      "100%",
      "%X",
    ]);
    assert.deepEqual(config.args!(assignments(3, { sql: "/run/sql-3" })), [
      "--listen",
      "/run/sql-3",
      "--name=default-db-3",
      "33",
      "100%",
      "%X",
    ]);
  });

  it("does not let %P:http eat the start of %P:http-admin", () => {
    const ports = [{ name: "http" }, { name: "http-admin" }];
    const config = toServiceConfig(spec({ args: ["%P:http", "%P:http-admin", "a=%P:http,b=%P:http-admin"], ports }), {
      namespace: "ns",
      serviceId: "web",
    });
    assert.deepEqual(config.args!(assignments(1, { http: "H", "http-admin": "A" })), ["H", "A", "a=H,b=A"]);
    // The order ports are declared in does not matter.
    const reversed = toServiceConfig(spec({ args: ["%P:http-admin", "%P:http"], ports: [...ports].reverse() }), {
      namespace: "ns",
      serviceId: "web",
    });
    assert.deepEqual(reversed.args!(assignments(0, { http: "H", "http-admin": "A" })), ["A", "H"]);
  });

  it("interpolates in one pass: an address containing %I is not rewritten", () => {
    assert.deepEqual(interpolateArgs(["%P:p %I"], { fullName: "n-s", processIndex: 7, listenAddrs: { p: "/tmp/%I" } }), ["/tmp/%I 7"]);
  });

  it("maps sizes, lifecycle and metadata to the contract's fields", () => {
    const config = toServiceConfig(
      spec({
        command: "/opt/app",
        ports: [{ name: "http", portHint: 8080 }],
        scale: 3,
        memory: "512MiB",
        cpu: "250m",
        disk: "10GiB",
        env: { A: "1" },
        workingDirectory: "/srv/app",
        labels: { tier: "web" },
        readiness: { http: { port: "http", path: "/" }, periodMs: 500 },
        restart: "on-failure",
        restartBackoff: { initialMs: 10 },
        stopSignal: "SIGINT",
        stopGracePeriodMs: 2500,
      }),
      { namespace: "default", serviceId: "web" },
    );
    assert.equal(config.image, "/opt/app");
    assert.deepEqual(config.ports, [{ name: "http", portHint: 8080 }]);
    assert.equal(config.scale, 3);
    assert.ok(config.memoryLimit instanceof MemoryLimit && config.memoryLimit.bytes === 512 * 1024 ** 2);
    assert.ok(config.cpuLimit instanceof CpuLimit && config.cpuLimit.millicpus === 250);
    assert.ok(config.diskLimit instanceof DiskLimit && config.diskLimit.bytes === 10 * 1024 ** 3);
    assert.equal(config.disk, true);
    assert.deepEqual(config.env, { A: "1" });
    assert.deepEqual(config.labels, { tier: "web" });
    assert.equal(config.workingDirectory, "/srv/app");
    assert.deepEqual(config.readiness, { http: { port: "http", path: "/" }, periodMs: 500 });
    assert.equal(config.restartPolicy, "on-failure");
    assert.deepEqual(config.restartBackoff, { initialMs: 10 });
    assert.equal(config.stopSignal, "SIGINT");
    assert.equal(config.terminationGracePeriodMs, 2500);
  });

  it("gives disk: true a scratch directory without a limit, and leaves unset fields out", () => {
    const withDisk = toServiceConfig(spec({ disk: true }), { namespace: "n", serviceId: "s" });
    assert.equal(withDisk.disk, true);
    assert.equal(withDisk.diskLimit, undefined);
    const plain = toServiceConfig(spec(), { namespace: "n", serviceId: "s" });
    for (const key of [
      "workingDirectory",
      "disk",
      "memoryLimit",
      "cpuLimit",
      "diskLimit",
      "readiness",
      "restartPolicy",
      "stopSignal",
      "terminationGracePeriodMs",
    ]) {
      assert.equal(key in plain, false, key);
    }
    assert.deepEqual(plain.args!(assignments(0, {})), []);
  });

  it("does not share the spec's arrays and maps with the config", () => {
    const s = spec({ args: ["%I"], env: { A: "1" } });
    const config = toServiceConfig(s, { namespace: "n", serviceId: "s" });
    s.args.push("more");
    s.env.A = "2";
    assert.deepEqual(config.args!(assignments(0, {})), ["0"]);
    assert.deepEqual(config.env, { A: "1" });
  });

  it("refuses what the backends refuse, with the contract's field names", () => {
    const rejects = (s: ServiceSpec, field: string, rule: RegExp) =>
      assert.throws(
        () => toServiceConfig(s, { namespace: "n", serviceId: "s" }),
        (e: unknown) => e instanceof ValidationError && e.field === field && rule.test(e.rule),
        field,
      );
    rejects(spec({ scale: -1 }), "scale", /non-negative integer/);
    rejects(spec({ memory: "lots" }), "memoryLimit", /byte size/);
    rejects(spec({ cpu: "fast" }), "cpuLimit", /cores/);
    rejects(spec({ disk: "huge" }), "diskLimit", /byte size/);
    rejects(spec({ ports: [{ name: "Bad" }] }), "ports[0].name", /\[a-z0-9\]/);
    rejects(spec({ readiness: { socket: "nope" } }), "readiness.socket", /ports/);
    rejects(spec({ args: ["%P:nope"], ports: [{ name: "p" }] }), "args[0]", /%P:nope names no port/);
    rejects(spec({ labels: { "bad key": "v" } }), "labels.bad key", /label keys/);
    rejects(spec({ command: "" }), "image", /empty/);
    rejects(spec({ workingDirectory: "relative" }), "workingDirectory", /absolute/);
  });
});
