import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CpuLimit, DiskLimit, MemoryLimit, ValidationError, matchesLabelSelector } from "../../src/index.js";

describe("limit value types", () => {
  it("parses and formats memory and disk sizes", () => {
    assert.equal(MemoryLimit.parse("512MiB").bytes, 512 * 1024 ** 2);
    assert.equal(MemoryLimit.parse("4GiB").bytes, 4 * 1024 ** 3);
    assert.equal(MemoryLimit.parse("1Gi").bytes, 1024 ** 3);
    assert.equal(MemoryLimit.parse("1G").bytes, 1e9);
    assert.equal(MemoryLimit.parse("1000000").bytes, 1_000_000);
    assert.equal(MemoryLimit.parse("1.5GiB").bytes, 1.5 * 1024 ** 3);
    assert.equal(MemoryLimit.parse("512MiB").toString(), "512MiB");
    assert.equal(MemoryLimit.parse("1536MiB").toString(), "1536MiB");
    assert.equal(DiskLimit.parse("10GiB").bytes, 10 * 1024 ** 3);
    assert.equal(DiskLimit.parse("10GiB").toString(), "10GiB");
    assert.equal(JSON.stringify({ m: MemoryLimit.parse("2GiB") }), '{"m":"2GiB"}');
  });

  it("parses CPU as cores or millicores", () => {
    assert.equal(CpuLimit.parse("1.5").millicpus, 1500);
    assert.equal(CpuLimit.parse("250m").millicpus, 250);
    assert.equal(CpuLimit.parse("2").millicpus, 2000);
    assert.equal(CpuLimit.fromMillicpus(750).toString(), "750m");
    assert.equal(CpuLimit.parse("3").toString(), "3");
    assert.equal(CpuLimit.parse("0.5").cores, 0.5);
  });

  it("refuses what does not parse, naming the field", () => {
    for (const bad of ["", "lots", "-1GiB", "12XB", "0"]) {
      assert.throws(
        () => MemoryLimit.parse(bad),
        (e: unknown) => e instanceof ValidationError && e.field === "memoryLimit",
        bad,
      );
    }
    assert.throws(
      () => DiskLimit.parse("ten"),
      (e: unknown) => e instanceof ValidationError && e.field === "diskLimit",
    );
    for (const bad of ["", "1.5m", "-1", "one", "0"]) {
      assert.throws(
        () => CpuLimit.parse(bad),
        (e: unknown) => e instanceof ValidationError && e.field === "cpuLimit",
        bad,
      );
    }
    assert.throws(() => CpuLimit.fromMillicpus(0.5), ValidationError);
  });
});

describe("label selectors", () => {
  const labels = { tier: "db", zone: "a" };
  it("matches labels and expressions", () => {
    assert.equal(matchesLabelSelector({ matchLabels: { tier: "db" } }, labels), true);
    assert.equal(matchesLabelSelector({ matchLabels: { tier: "web" } }, labels), false);
    assert.equal(matchesLabelSelector({ matchExpressions: [{ key: "zone", operator: "In", values: ["a", "b"] }] }, labels), true);
    assert.equal(matchesLabelSelector({ matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, labels), false);
    assert.equal(matchesLabelSelector({ matchExpressions: [{ key: "gpu", operator: "Exists" }] }, labels), false);
    assert.equal(matchesLabelSelector({ matchExpressions: [{ key: "gpu", operator: "DoesNotExist" }] }, labels), true);
  });
});
