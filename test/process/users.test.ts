import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../../src/contract/errors.js";
import { resolveServiceUser } from "../../src/process/users.js";

describe("resolveServiceUser", () => {
  it("resolves a name to its uid and primary group", () => {
    assert.deepEqual(resolveServiceUser("root"), { name: "root", uid: 0, gid: 0, home: "/root" });
  });

  it("resolves a numeric uid, with or without a passwd entry", () => {
    assert.equal(resolveServiceUser(0).name, "root");
    assert.equal(resolveServiceUser("0").uid, 0);
    const nameless = resolveServiceUser(424242);
    assert.deepEqual(nameless, { name: null, uid: 424242, gid: 424242, home: null });
  });

  it("takes the group by name or gid", () => {
    assert.equal(resolveServiceUser("root", "root").gid, 0);
    assert.equal(resolveServiceUser("root", 12345).gid, 12345);
  });

  it("refuses a user or group that does not exist, naming the field", () => {
    assert.throws(
      () => resolveServiceUser("no-such-user-here"),
      (e: unknown) => e instanceof ValidationError && e.field === "user",
    );
    assert.throws(
      () => resolveServiceUser("root", "no-such-group-here"),
      (e: unknown) => e instanceof ValidationError && e.field === "group",
    );
  });
});
