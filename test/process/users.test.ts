import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../../src/contract/errors.js";
import { systemdRunArgs } from "../../src/process/launch/systemd.js";
import { asUser, resolveServiceUser, serviceRunAs } from "../../src/process/users.js";

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

describe("asUser", () => {
  it("drops to the user with setpriv, which execs the program in place; a named user gets its groups", () => {
    const www = resolveServiceUser("www-data");
    const { program, args } = asUser(www, "/usr/sbin/nginx", ["-g", "daemon off;"]);
    assert.match(program, /\/setpriv$/);
    assert.deepEqual(args, [`--reuid=${www.uid}`, `--regid=${www.gid}`, "--init-groups", "--", "/usr/sbin/nginx", "-g", "daemon off;"]);
    assert.equal(
      asUser(resolveServiceUser(424242), "/bin/true", []).args[2],
      "--clear-groups",
      "a uid without a passwd entry has no groups to take",
    );
  });

  it("goes inside the systemd scope, after systemd-run's own options", () => {
    const user = resolveServiceUser("nobody");
    const args = systemdRunArgs({ program: "/bin/sleep", args: ["1"], user });
    assert.deepEqual(args.slice(0, 3), ["--user", "--scope", "--quiet"]);
    assert.match(args[3]!, /\/setpriv$/);
    assert.deepEqual(args.slice(-3), ["--", "/bin/sleep", "1"]);
  });

  it("is not used for corral's own user", () => {
    assert.equal(serviceRunAs({}), undefined);
    assert.equal(serviceRunAs({ user: "root" }), undefined, "root running as root needs no setpriv");
    assert.equal(
      serviceRunAs({ user: "root", group: "nogroup" })?.gid,
      resolveServiceUser("root", "nogroup").gid,
      "another group is another identity",
    );
  });
});
