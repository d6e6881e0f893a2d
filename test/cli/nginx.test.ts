// nginx (Debian's nginx-light, which .ci/run installs) as www-data under the
// real daemon: it serves a file on its Unix socket, fetched with an HTTP client.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, statSync } from "node:fs";
import { request } from "node:http";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FIXTURES } from "../helpers.js";
import { type RealProject, realProject } from "./project.js";

function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once("timeout", () => req.destroy(new Error("no answer within 10 s")));
    req.once("error", reject);
    req.end();
  });
}

describe("nginx as www-data under corral", () => {
  let project: RealProject;
  const uid = (user: string) => Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());

  before(() => {
    assert.ok(existsSync("/usr/sbin/nginx"), "nginx-light is installed (.ci/run installs it)");
    project = realProject("corral-nginx-");
    cpSync(join(FIXTURES, "nginx"), project.dir, { recursive: true });
  });
  after(() => project.cleanup());

  it("serves a file on its socket, the master supervised as itself", async () => {
    await project.startDaemon();
    await project.apply();
    const [web] = await project.waitForRows("web online", (rows) => rows.some((row) => row.service === "web" && row.status === "online"));
    assert.equal(readFileSync(`/proc/${web!.pid}/comm`, "utf8").trim(), "nginx");
    assert.match(readFileSync(`/proc/${web!.pid}/cmdline`, "utf8"), /nginx: master process/);
    assert.equal(Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${web!.pid}/status`, "utf8"))![1]), uid("www-data"));

    const socket = web!.addresses.http!;
    const home = statSync(dirname(socket));
    assert.equal(home.uid, uid("www-data"), "the socket's directory belongs to www-data");
    assert.equal(home.mode & 0o777, 0o700, "and to nobody else");
    assert.deepEqual(await get(socket, "/hello.txt"), { status: 200, body: "hello from nginx\n" });

    const down = project.corral(["down"]);
    assert.equal(down.status, 0, down.stderr);
    assert.deepEqual(project.processes(), []);
  });
});
