// Services run as another user (here: nobody) on real processes, under each
// launcher that can run here: the PID corral supervises is the server itself,
// its sockets, socket directories, scratch and volumes are the user's alone,
// and the run directory with the PID records stays out of its reach.
import assert from "node:assert/strict";
import { build } from "esbuild";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ValidationError } from "../../src/contract/errors.js";
import type { ServiceConfig } from "../../src/contract/types.js";
import type { ProcessOrchestrator } from "../../src/process/orchestrator.js";
import { IMAGES, nextEvent, testEnvironment, untilAllOnline } from "../helpers.js";

const NOBODY = {
  uid: Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" })),
  gid: Number(execFileSync("id", ["-g", "nobody"], { encoding: "utf8" })),
};
const ROOT_DIR = join(dirname(IMAGES), "..", "..");

function ask(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("end", () => resolve(data.trim()));
    socket.on("error", reject);
  });
}

function statusIds(pid: number): { uid: number; gid: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return { uid: Number(/^Uid:\s+(\d+)/m.exec(status)![1]), gid: Number(/^Gid:\s+(\d+)/m.exec(status)![1]) };
}

/** Whether `nobody` may do `script` (a shell command line), asked of the kernel. */
function nobodyCan(script: string): boolean {
  const result = spawnSync("setpriv", [`--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, "--clear-groups", "--", "/bin/sh", "-c", script], {
    stdio: "ignore",
  });
  return result.status === 0;
}

const ownerAndMode = (path: string) => {
  const stats = statSync(path);
  return { uid: stats.uid, gid: stats.gid, mode: stats.mode & 0o7777 };
};

/** A server on a plain port and one on a socket directory, with scratch and a volume. */
const asNobody = (scale: number): ServiceConfig => ({
  image: "server.mjs",
  args: (a) => [a.socketDirs!.sql! + "/server.sock", String(a.processIndex)],
  ports: [{ name: "sql", socketDir: true, socketFile: "server.sock" }],
  scale,
  user: "nobody",
  disk: true,
  volumes: ["data"],
  readiness: { socket: "sql" },
});

describe("a service run as another user", () => {
  const env = testEnvironment("runas");
  // The test's temp root is 0700 like any mkdtemp: the user must get through it. The images are copied
  // into it because the checkout may sit where the user cannot reach (a clone under a 0700 mkdtemp).
  chmodSync(env.root, 0o755);
  env.config.imageDir = join(env.root, "images");
  cpSync(IMAGES, env.config.imageDir, { recursive: true });
  after(() => env.cleanup());

  for (const launcher of ["direct", "cgroup"] as const) {
    describe(`with the ${launcher} launcher`, () => {
      let orchestrator: ProcessOrchestrator;
      before(async () => {
        orchestrator = await env.create({ launcher, stateDir: join(env.root, `state-${launcher}`), tcpProxy: { listenAddr: "127.0.0.1" } });
      });

      it("runs the server itself as the user, with its sockets, scratch and volume the user's alone", async () => {
        const ns = orchestrator.namespace(launcher);
        const events = ns.watchServices();
        const service = await ns.ensureService("s", asNobody(2));
        const online = await untilAllOnline(events, "s", 2);
        for (const event of online) {
          assert.deepEqual(statusIds(event.pid!), NOBODY, "the supervised PID runs as nobody");
          assert.match(readFileSync(`/proc/${event.pid}/cmdline`, "utf8"), /^node\0.*server\.mjs\0/, "and is the server, not a wrapper");
          const environ = readFileSync(`/proc/${event.pid}/environ`, "utf8").split("\0");
          assert.ok(environ.includes(`CORRAL_VOLUME_DATA=${join(orchestrator.config.volumeDirectory, "data")}`));
          assert.ok(environ.includes(`CORRAL_SCRATCH_DIR=${join(orchestrator.config.scratchDirectory, `${launcher}-s`)}`));
          assert.ok(environ.includes("USER=nobody"));
        }
        const [first, second] = service.addresses("sql");
        assert.equal(await ask(second!), `hello ${online[1]!.pid} 1`, "addresses() is the socket inside the directory");
        const [tcp] = service.tcpAddresses("sql");
        const [host, port] = tcp!.split(":");
        assert.equal(
          await new Promise<string>((resolve, reject) => {
            const socket = connect(Number(port), host);
            let data = "";
            socket.setEncoding("utf8");
            socket.on("data", (chunk: string) => (data += chunk));
            socket.on("end", () => resolve(data.trim()));
            socket.on("error", reject);
          }),
          `hello ${online[0]!.pid} 0`,
          "the TCP proxy forwards to <dir>/<socketFile>",
        );

        const runDir = join(orchestrator.config.stateDir, `${launcher}-s`);
        const owned = { uid: NOBODY.uid, gid: NOBODY.gid, mode: 0o700 };
        assert.deepEqual(ownerAndMode(runDir), { uid: 0, gid: 0, mode: 0o711 });
        assert.deepEqual(ownerAndMode(join(runDir, "sockets")), owned);
        assert.deepEqual(ownerAndMode(dirname(first!)), owned);
        assert.deepEqual(ownerAndMode(join(orchestrator.config.scratchDirectory, `${launcher}-s`)), owned);
        assert.deepEqual(ownerAndMode(join(orchestrator.config.volumeDirectory, "data")), owned);
        assert.equal(statSync(join(runDir, "0.pid")).uid, 0);
        // A service must not be able to make corral signal a stranger: its PID records are beyond its reach.
        assert.ok(nobodyCan(`test -S ${first}`), "nobody reaches its socket");
        assert.ok(!nobodyCan(`echo '{}' > ${join(runDir, "0.pid")}`), "nobody cannot rewrite a PID record");
        assert.ok(!nobodyCan(`echo '{}' > ${join(runDir, "9.pid")}`), "nor plant one");
        assert.ok(!nobodyCan(`mv ${join(runDir, "0.pid")} ${join(runDir, "sockets", "x")}`), "nor move one away");
        assert.ok(!nobodyCan(`ls ${runDir}`), "nor list the run directory");

        // A relaunch as the same user finds its socket directory made again.
        process.kill(online[0]!.pid!, "SIGKILL");
        const back = await nextEvent(events, (e) => e.processId === 0 && e.status === "online" && e.pid !== online[0]!.pid);
        assert.deepEqual(statusIds(back.pid!), NOBODY);
        assert.equal(await ask(first!), `hello ${back.pid} 0`);

        await ns.dropService("s");
        assert.ok(!existsSync(runDir), "the run directory goes with the service");
        assert.ok(existsSync(join(orchestrator.config.volumeDirectory, "data")), "the volume stays");
        await events.return!();
      });
    });
  }

  it("gives the log pipes to the user, for programs that reopen /dev/stdout", async () => {
    const orchestrator = await env.create({ stateDir: join(env.root, "state-logs") });
    const ns = orchestrator.namespace("logs");
    const events = ns.watchServices();
    await ns.ensureService("s", {
      image: "/bin/sh",
      args: () => ["-c", "echo through-the-path > /dev/stdout && echo inherited"],
      scale: 1,
      user: "nobody",
      restartPolicy: "never",
    });
    await nextEvent(events, (e) => e.serviceId === "s" && e.status === "offline" && e.exitCode !== undefined);
    const lines = [];
    for await (const line of ns.logs("s", 0)) lines.push(line.line);
    assert.deepEqual(lines, ["through-the-path", "inherited"]);
    assert.equal(statSync(join(orchestrator.config.stateDir, "logs-s", "0.stdout")).uid, NOBODY.uid);
    await events.return!();
  });

  it("refuses a service whose user cannot reach the state dir, naming the directory and the fix", async () => {
    const locked = testEnvironment("runas-locked"); // its root stays 0700, root's
    try {
      const orchestrator = await locked.create({ imageDir: env.config.imageDir });
      const ns = orchestrator.namespace("l");
      await assert.rejects(ns.ensureService("s", asNobody(1)), (error: unknown) => {
        assert.ok(error instanceof ValidationError && error.field === "user", String(error));
        assert.match(error.rule, new RegExp(`nobody \\(uid ${NOBODY.uid}\\) cannot reach the run directory`));
        assert.ok(error.rule.includes(`${locked.root} is mode 0700 owned by uid 0`), error.rule);
        assert.ok(error.rule.includes(`chmod o+x ${locked.root}`), error.rule);
        return true;
      });
      assert.deepEqual(readdirSync(orchestrator.config.stateDir), ["logs"], "nothing was written");
      assert.deepEqual(locked.processes(), [], "nothing was started");
    } finally {
      await locked.cleanup();
    }
  });

  it("refuses an image the user may not execute", async () => {
    const images = join(env.root, "private-images");
    mkdirSync(images, { mode: 0o755 });
    copyFileSync(join(IMAGES, "sleeper"), join(images, "sleeper"));
    chmodSync(join(images, "sleeper"), 0o700);
    const orchestrator = await env.create({ imageDir: images, stateDir: join(env.root, "state-images") });
    await assert.rejects(
      orchestrator.namespace("i").ensureService("s", { image: "sleeper", scale: 1, user: "nobody" }),
      (error: unknown) =>
        error instanceof ValidationError && error.field === "user" && /cannot execute the image .*mode 0700/.test(error.rule),
    );
  });

  it("refuses a volume that belongs to another user", async () => {
    const orchestrator = await env.create({ stateDir: join(env.root, "state-volume") });
    mkdirSync(join(orchestrator.config.volumeDirectory, "taken"), { recursive: true });
    await assert.rejects(
      orchestrator.namespace("v").ensureService("s", { image: "sleeper", scale: 1, user: "nobody", volumes: ["taken"] }),
      (error: unknown) =>
        error instanceof ValidationError && error.field === "volumes" && error.rule.includes("belongs to uid 0, not to nobody"),
    );
  });

  it("is refused where corral is not root", async () => {
    // A real unprivileged process asks the same question corral asks before it starts anything. It runs
    // the module bundled into the test's own directory: the checkout may be where nobody cannot reach.
    const bundle = join(env.root, "users.mjs");
    await build({
      entryPoints: [join(ROOT_DIR, "src", "process", "users.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: bundle,
      logLevel: "silent",
    });
    chmodSync(bundle, 0o644);
    const script = `import { serviceRunAs } from ${JSON.stringify(bundle)};
      try { serviceRunAs({ user: "root" }); console.log("allowed"); } catch (e) { console.log(JSON.stringify({ field: e.field, rule: e.rule })); }`;
    const result = spawnSync(
      "setpriv",
      [`--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, "--clear-groups", "--", process.execPath, "--input-type=module", "-e", script],
      { encoding: "utf8", cwd: env.root, env: { ...process.env, HOME: "/tmp" }, timeout: 60_000 },
    );
    assert.equal(result.status, 0, result.stderr);
    const answer = JSON.parse(result.stdout) as { field: string; rule: string };
    assert.equal(answer.field, "user");
    assert.match(answer.rule, new RegExp(`corral runs as uid ${NOBODY.uid} and cannot start processes as root \\(uid 0\\): only root can`));
  });
});
