// `shell:` lines: which get `exec` (so the process is the program), how
// placeholders are quoted, and the file's errors for them.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { parseConfig, toServiceConfig } from "../../src/config/index.js";
import { shellQuote, shellScript } from "../../src/config/shell-command.js";
import { EXECUTABLE, configError, project } from "./helpers.js";

describe("shellScript", () => {
  it("puts exec before the program of a simple command", () => {
    assert.equal(shellScript("npm run dev -- --port %P:http"), "exec npm run dev -- --port %P:http");
    assert.equal(shellScript("  node server.js"), "  exec node server.js");
    assert.equal(shellScript("NODE_ENV=dev PORT=3000 node 'a b.js' \"x;y\""), "NODE_ENV=dev PORT=3000 exec node 'a b.js' \"x;y\"");
    assert.equal(shellScript("server --log=$(date +%s) 2>&1 >log"), "exec server --log=$(date +%s) 2>&1 >log");
    assert.equal(shellScript("echo a\\;b # a comment; not an operator"), "exec echo a\\;b # a comment; not an operator");
  });

  it("leaves compound commands, builtins and what it cannot read to sh, which exits on the stop signal once its command ended", () => {
    for (const line of [
      "npm install && npm run dev",
      "a | b",
      "a; b",
      "a &",
      "(cd sub; make)",
      "a\nb",
      "cd sub",
      "exec node x",
      "if true; then x; fi",
      "{ a; }",
      "FOO=1",
      "echo 'unclosed",
      ">log server",
    ])
      assert.equal(shellScript(line), `trap exit TERM; ${line}`, line);
    assert.equal(shellScript("a && b", "SIGINT"), "trap exit INT; a && b");
  });

  it("what it makes runs as sh would run the line", () => {
    const run = (line: string) => execFileSync("/bin/sh", ["-c", shellScript(line)], { encoding: "utf8" });
    assert.equal(run("A=1 B='x y' sh -c 'echo $A $B' 2>&1"), "1 x y\n");
    assert.equal(run("printf '%s\\n' \"a;b\" $(echo c)"), "a;b\nc\n");
  });

  it("quotes a value only when it needs it", () => {
    assert.equal(shellQuote("/run/corral/web/http-0"), "/run/corral/web/http-0");
    assert.equal(shellQuote("/tmp/my project/x"), "'/tmp/my project/x'");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
    assert.equal(execFileSync("/bin/sh", ["-c", `printf %s ${shellQuote("a 'b' $c")}`], { encoding: "utf8" }), "a 'b' $c");
  });
});

describe("shell: in corral.yaml", () => {
  const load = (t: TestContext, text: string) => {
    const dir = project(t, { tool: EXECUTABLE });
    return { dir, load: () => parseConfig(text, { file: "corral.yaml", baseDir: dir, env: { PATH: join(dir, "bin") } }) };
  };

  it("becomes /bin/sh -c with the line, placeholders filled in and quoted", (t) => {
    const { load: read } = load(t, 'services:\n  web:\n    shell: "server --listen %P:http --name %N-%I"\n    ports: [http]\n');
    const state = read();
    const web = state.services.web!;
    assert.equal(web.command, "/bin/sh");
    assert.equal(web.shell, "server --listen %P:http --name %N-%I");
    assert.deepEqual(web.args, []);
    const config = toServiceConfig(web, { namespace: "default", serviceId: "web" });
    const args = config.args!({ processIndex: 1, listenAddrs: { http: "/tmp/my dir/http-1" }, peerAddrs: [] });
    assert.deepEqual(args, ["-c", "exec server --listen '/tmp/my dir/http-1' --name default-web-1"]);
  });

  it("errors name the file, line, column, field and rule", (t) => {
    const cases: [string, RegExp][] = [
      ['services:\n  web:\n    command: ./tool\n    shell: "x"\n', /^corral\.yaml:3:5: services\.web\.command: cannot be given with shell/],
      ['services:\n  web:\n    shell: "x"\n    args: [a]\n', /^corral\.yaml:4:5: services\.web\.args: cannot be given with shell/],
      [
        'services:\n  web:\n    shell: "x --listen %P:http"\n',
        /^corral\.yaml:3:12: services\.web\.shell: %P:http names no port of the service/,
      ],
      ['services:\n  web:\n    shell: ""\n', /^corral\.yaml:3:12: services\.web\.shell: must not be empty/],
      ["services:\n  web:\n    ports: [http]\n", /^corral\.yaml:2:3: services\.web\.command: is required \(or shell: a command line\)/],
    ];
    for (const [text, expected] of cases) {
      const { load: read } = load(t, text);
      assert.match(configError(read).message, expected, text);
    }
  });
});
