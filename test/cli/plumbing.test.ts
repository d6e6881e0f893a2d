// The `corral` command as a shell user drives it: pipes that close early,
// global options in any position, usage errors, a large rotated history,
// `ps` ordering and stop grace, the TCP listener with a token, a flood of
// connections, and a daemon that goes away under a follower. Real binary,
// real daemon, real processes.
import assert from "node:assert/strict";
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { DaemonClient } from "../../src/cli/client.js";
import { logLineBody, processRowBody } from "../../src/server/wire.js";
import { isPidAlive, killEnvironment, until } from "../helpers.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "bin", "corral.js");
const HISTORY_LINES = 200_000;
// What `corral ps --json` prints per process (the fields this file reads).
const psRow = processRowBody.pick({ service: true, process: true, status: true, reason: true, lastExitReason: true, pid: true });
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  assert.ok(address && typeof address === "object");
  return address.port;
}

describe("the corral command's plumbing", () => {
  let project: string;
  let elsewhere: string;
  let file: string;
  let port: number;
  const environment = `plumbing-${process.pid}`;
  const env = { ...process.env, NO_COLOR: "1", CORRAL_STATE_DIR: "", CORRAL_HOST: "", CORRAL_TOKEN: "" };
  /** Runs corral from `cwd` (a folder without corral.yaml by default: options must name the project). */
  const corral = (args: string[], cwd = elsewhere, extraEnv: Record<string, string> = {}): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: "utf8", timeout: 120_000, env: { ...env, ...extraEnv } });
  /** A shell pipeline; prints corral's own exit status last, as `status=<n>`. */
  const pipeline = (command: string): SpawnSyncReturns<string> =>
    spawnSync("bash", ["-c", `${command}; echo "status=\${PIPESTATUS[0]}"`], { cwd: elsewhere, encoding: "utf8", timeout: 120_000, env });
  const client = () => new DaemonClient({ socketPath: join(project, ".corral", "corral.sock") });
  const rows = () => {
    const result = corral(["ps", "--json", "-f", file]);
    assert.equal(result.status, 0, result.stderr);
    return psRow.array().parse(JSON.parse(result.stdout));
  };

  before(async () => {
    assert.ok(existsSync(join(ROOT, "dist", "cli", "main.js")), "npm run build first (npm test does)");
    project = realpathSync(mkdtempSync(join(tmpdir(), "corral-plumbing-")));
    elsewhere = join(project, "elsewhere");
    mkdirSync(elsewhere);
    file = join(project, "corral.yaml");
    port = await freePort();
    // chatty: 200,000 lines of about 110 bytes (22 MB: three files of the 10 MiB rotation), then it idles.
    // slow: takes its time to stop (it ignores SIGTERM), so a scale-down shows it stopping.
    writeFileSync(
      file,
      `environment: ${environment}
services:
  chatty:
    command: node
    args: ["-e", "const pad = 'x'.repeat(70); let s = ''; for (let i = 0; i < ${HISTORY_LINES}; i++) { s += 'line ' + i + ' ' + pad + '\\\\n'; if (s.length > 65536) { process.stdout.write(s); s = ''; } } process.stdout.write(s + 'written\\\\n'); setInterval(() => {}, 1e9)"]
  web:
    command: node
    args: ["-e", "setInterval(() => console.log('tick ' + Date.now()), 200)"]
    scale: 2
  slow:
    command: node
    args: ["-e", "process.on('SIGTERM', () => console.log('not yet')); setInterval(() => {}, 1e9)"]
    scale: 2
    stopGracePeriod: 60s
`,
    );
    const result = corral(["-f", file, "up", "-d", "--tcp", `127.0.0.1:${port}`]);
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  });
  after(() => {
    if (existsSync(join(project, ".corral", "corral.sock"))) corral(["down", "-f", file]);
    killEnvironment(environment);
    rmSync(project, { recursive: true, force: true });
  });

  it("usage errors exit 2, --version prints the package's version, --help exits 0", () => {
    for (const args of [
      [],
      ["nope"],
      ["ps", "--bogus"],
      ["scale"],
      ["secrets"],
      ["logs", "web", "--tail", "x"],
      ["top", "--interval", "0"],
    ]) {
      const result = corral(args);
      assert.equal(result.status, 2, `corral ${args.join(" ")}: ${result.stderr}`);
      assert.doesNotMatch(result.stderr, /\n\s+at .*:\d+:\d+\)?$/m, "no stack trace");
    }
    for (const [args, rule] of [
      [["top", "--interval", "abc"], /--interval.*'abc' is invalid/],
      [["up", "--timeout", "0"], /--timeout.*'0' is invalid. must be a positive number of seconds/],
      [["up", "--wait-settle", "soon"], /--wait-settle.*is invalid/],
      [["logs", "--since", "yesterday"], /--since.*is invalid/],
      [["up", "--tcp", "nowhere"], /--tcp.*must be <host>:<port>/],
      [["ps", "--host", "ftp://x"], /--host.*http:\/\//],
    ] as const) {
      const result = corral([...args]);
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, rule);
    }
    const version = corral(["--version"]);
    assert.equal(version.status, 0);
    assert.equal(version.stdout.trim(), VERSION);
    assert.equal(corral(["--help"]).status, 0);
    assert.equal(corral(["logs", "--help"]).status, 0);
  });

  it("-f and --state-dir work before and after the command; logs -f still follows", async () => {
    const before = corral(["-f", file, "ps"]);
    const afterIt = corral(["ps", "-f", file]);
    assert.equal(before.status, 0, before.stderr);
    assert.equal(afterIt.status, 0, afterIt.stderr);
    assert.match(before.stdout, /chatty\s+0\s+online/);
    assert.equal(corral(["ps", "--state-dir", join(project, ".corral")]).status, 0);
    assert.equal(corral(["--state-dir", join(project, ".corral"), "ps"]).status, 0);
    assert.match(corral(["logs", "--file", file, "web", "--tail", "1"]).stdout, /^web-\d \| tick \d+$/m);
    // -f before `logs` names the file; -f after it follows.
    const follower = spawn(process.execPath, [BIN, "-f", file, "logs", "-f", "web", "--tail", "0"], { cwd: elsewhere, env });
    let out = "";
    follower.stdout.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await until(() => (out.match(/web-\d \| tick \d+/g) ?? []).length >= 3, "three new lines followed");
      // An exit and the restart show inline, between the log lines, as in `docker compose up`.
      process.kill(rows().find((r) => r.service === "web" && r.process === 1)!.pid!, "SIGKILL");
      await until(() => /web-1 offline \(crashed\).*\n(.*\n)*.*web-1 online/.test(out), "the crash and the restart inline");
    } finally {
      follower.kill("SIGINT");
    }
  });

  it("a closed pipe ends logs and events quietly with status 0", async () => {
    await until(
      () => corral(["logs", "--file", file, "chatty", "--tail", "1"]).stdout.includes("written"),
      "chatty's history written",
      120_000,
    );
    const logs = pipeline(`node ${BIN} logs --file ${file} chatty | head -1`);
    assert.match(logs.stdout, /^chatty-0 \| line 0 x+\nstatus=0\n$/);
    assert.equal(logs.stderr, "", "nothing on stderr");
    const events = spawn("bash", ["-c", `node ${BIN} events -f ${file} | head -1; echo "status=\${PIPESTATUS[0]}"`], {
      cwd: elsewhere,
      env,
    });
    let out = "";
    let err = "";
    events.stdout.on("data", (d: Buffer) => (out += d.toString()));
    events.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const ended = new Promise<void>((resolve) => events.once("exit", () => resolve()));
    try {
      await until(() => out.includes("\n"), "the first event");
      // The next event is written to the closed pipe: that write ends the command, as SIGPIPE ends any tool.
      assert.equal(corral(["restart", "web", "-f", file]).status, 0);
      await ended;
    } finally {
      events.kill();
    }
    assert.match(out, /status=0\n$/);
    assert.equal(err, "");
  });

  it(`${HISTORY_LINES} lines across rotated files all come back through logs and the API`, async () => {
    // Spread over the current file and rotated ones (<name>.log.1, .log.2, ...).
    const files = spawnSync("find", [join(project, ".corral"), "-name", "*chatty-0.log*"], { encoding: "utf8" })
      .stdout.trim()
      .split("\n");
    assert.ok(files.length >= 3, `rotated files: ${files.join(" ")}`);
    const result = spawnSync("bash", ["-c", `node ${BIN} logs chatty --file ${file} | grep -c ' | line '`], {
      cwd: elsewhere,
      encoding: "utf8",
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(result.stdout.trim(), String(HISTORY_LINES), result.stderr);
    let count = 0;
    let previous = -1;
    for await (const line of client().lines("/v1/services/chatty/logs", logLineBody)) {
      const n = /^line (\d+) /.exec(line.line)?.[1];
      if (n === undefined) continue;
      assert.equal(Number(n), previous + 1, "in order, none missing");
      previous = Number(n);
      count++;
    }
    assert.equal(count, HISTORY_LINES);
    // --tail reaches into the rotated files too; --since/--until select by time.
    const tail = spawnSync("bash", ["-c", `node ${BIN} logs chatty --file ${file} --tail 150000 | grep -c ' | line '`], {
      cwd: elsewhere,
      encoding: "utf8",
      env,
    });
    // The last line of the history is chatty's "written": 149,999 numbered lines before it.
    assert.equal(tail.stdout.trim(), "149999", tail.stderr);
    const since = corral(["logs", "chatty", "--file", file, "--since", "1h", "--tail", "3"]);
    assert.equal(since.stdout.trim().split("\n").length, 3, since.stderr);
    assert.equal(corral(["logs", "chatty", "--file", file, "--until", "2000-01-01T00:00:00Z"]).stdout, "");
    assert.equal(corral(["logs", "chatty", "--file", file, "--since", new Date(Date.now() + 3_600_000).toISOString()]).stdout, "");
  });

  it("ps is sorted by service and process, keeps the last exit beside the status, and shows a process stopping", async () => {
    const names = rows().map((r) => `${r.service}-${r.process}`);
    assert.deepEqual(names, ["chatty-0", "slow-0", "slow-1", "web-0", "web-1"]);
    const web0 = rows().find((r) => r.service === "web" && r.process === 0)!;
    process.kill(web0.pid!, "SIGKILL");
    const restarted = await until(() => {
      const row = rows().find((r) => r.service === "web" && r.process === 0);
      return row && row.status === "online" && row.pid !== web0.pid ? row : undefined;
    }, "web-0 restarted");
    assert.equal(restarted.lastExitReason, "crashed");
    assert.match(corral(["ps", "-f", file]).stdout, /web\s+0\s+online, after crashed/);
    // slow-1 ignores SIGTERM: for its grace period it is stopping, not gone.
    const slow1 = rows().find((r) => r.service === "slow" && r.process === 1)!;
    const scaling = spawn(process.execPath, [BIN, "scale", "slow=1", "-f", file], { cwd: elsewhere, env, stdio: "ignore" });
    try {
      const stopping = await until(
        () => rows().find((r) => r.service === "slow" && r.process === 1 && r.reason === "stopping"),
        "slow-1 stopping",
      );
      assert.equal(stopping.pid, slow1.pid);
      assert.ok(isPidAlive(slow1.pid!));
      assert.match(corral(["ps", "-f", file]).stdout, /slow\s+1\s+stopping/);
    } finally {
      // Not waiting the 60 s out: the test kills it, and the stop completes.
      process.kill(slow1.pid!, "SIGKILL");
      await new Promise((resolve) => scaling.once("exit", resolve));
    }
    assert.deepEqual(
      rows().map((r) => `${r.service}-${r.process}`),
      ["chatty-0", "slow-0", "web-0", "web-1"],
    );
  });

  it("--host and --token-file (or CORRAL_HOST and CORRAL_TOKEN) reach the daemon's TCP listener that up --tcp opened", () => {
    const host = `http://127.0.0.1:${port}`;
    const tokenFile = join(project, ".corral", "token");
    const remote = corral(["ps", "--host", host, "--token-file", tokenFile]);
    assert.equal(remote.status, 0, remote.stderr);
    assert.match(remote.stdout, /chatty\s+0\s+online/);
    const viaEnv = corral(["logs", "web", "--tail", "1"], elsewhere, {
      CORRAL_HOST: host,
      CORRAL_TOKEN: readFileSync(tokenFile, "utf8").trim(),
    });
    assert.equal(viaEnv.status, 0, viaEnv.stderr);
    assert.match(viaEnv.stdout, /^web-\d \| tick/m);
    const refused = corral(["ps", "--host", host]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /refused.*--token-file/);
    const nobody = corral(["ps", "--host", "http://127.0.0.1:1", "--token-file", tokenFile]);
    assert.equal(nobody.status, 3);
  });

  it("a flood of connections and polling leaves the daemon serving and supervising", async () => {
    const socketPath = join(project, ".corral", "corral.sock");
    const sockets: Socket[] = [];
    try {
      // Far more idle connections than the daemon keeps (DAEMON_DEFAULTS.apiMaxConnections), opened at once.
      await Promise.all(
        Array.from(
          { length: 1500 },
          () =>
            new Promise<void>((resolve) => {
              const socket = connect(socketPath);
              sockets.push(socket);
              socket.on("error", () => resolve());
              socket.on("close", () => resolve());
              socket.once("connect", () => resolve());
            }),
        ),
      );
      // Meanwhile, polling without pause: 40 clients × 25 requests.
      const polls = await Promise.all(
        Array.from({ length: 40 }, async () => {
          let ok = 0;
          for (let i = 0; i < 25; i++) {
            try {
              await client().get("/v1/processes", processRowBody.array());
              ok++;
            } catch {
              // Refused at the bound is allowed; the daemon dying is not (checked below).
            }
          }
          return ok;
        }),
      );
      assert.ok(polls.reduce((a, b) => a + b, 0) > 0, "polls are served while idle connections flood the daemon");
      assert.equal(corral(["ps", "-f", file]).status, 0, "ps answers during the flood");
      // Supervising: a killed process is restarted.
      const web1 = rows().find((r) => r.service === "web" && r.process === 1)!;
      process.kill(web1.pid!, "SIGKILL");
      await until(() => {
        const row = rows().find((r) => r.service === "web" && r.process === 1);
        return row && row.status === "online" && row.pid !== web1.pid;
      }, "web-1 restarted during the flood");
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    // The closes of 1500 sockets may still be queued for the daemon: it answers once it has seen them (bounded).
    const deadline = Date.now() + 30_000;
    while (!(await client().alive())) {
      assert.ok(Date.now() < deadline, "the daemon is alive");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it("a follower whose daemon goes away says so in one line", async () => {
    const follower = spawn(process.execPath, [BIN, "logs", "--file", file, "-f", "web", "--tail", "0"], { cwd: elsewhere, env });
    let out = "";
    let err = "";
    follower.stdout.on("data", (d: Buffer) => (out += d.toString()));
    follower.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => follower.once("exit", (code) => resolve(code)));
    await until(() => out.includes("tick"), "a followed line");
    const daemon = (JSON.parse(readFileSync(join(project, ".corral", "daemon.json"), "utf8")) as { pid: number }).pid;
    process.kill(daemon, "SIGKILL");
    assert.equal(await exited, 1);
    assert.match(err, /^corral: the daemon at .* went away/);
    assert.equal(err.trim().split("\n").length, 1, `one line:\n${err}`);
  });
});
