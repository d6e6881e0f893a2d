// `corral --help`, `ps` and `logs` load only what they use: no daemon, no
// fastify, no Kubernetes client (which alone takes about a second to import).
// Checked on the built command (the bundle in dist/cli-bundle, split at its
// dynamic imports), by recording every module the process resolves.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { FIXTURES } from "../helpers.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "bin", "corral.js");

function modulesLoadedBy(args: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), "corral-imports-"));
  try {
    const log = join(dir, "imports.log");
    const result = spawnSync(process.execPath, ["--import", join(FIXTURES, "import-recorder", "register.mjs"), BIN, ...args], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, CORRAL_IMPORT_LOG: log, CORRAL_STATE_DIR: join(dir, "state") },
    });
    // ps and logs find no daemon here (exit 3): what they loaded to find out is what counts.
    assert.ok(result.status === 0 || result.status === 3, `corral ${args.join(" ")}: ${result.status} ${result.stderr}`);
    return readFileSync(log, "utf8").trim().split("\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The daemon's and the Kubernetes backend's chunks import these packages: a chunk of either loaded loads them.
// The dist/ paths catch a command that loads tsc's files again instead of its chunks.
const HEAVY = [
  /\/node_modules\/fastify\//,
  /\/node_modules\/@kubernetes\//,
  /\/node_modules\/@fastify\//,
  /\/dist\/server\/daemon\.js$/,
  /\/dist\/server\/http\//,
  /\/dist\/kubernetes\//,
];

const BUNDLE_FILE = /\/dist\/cli-bundle\/[^/]+\.js$/;

/**
 * Code bundled into chunks has no file of its own: a loaded chunk holding one
 * of `markers` (a line only that code has) is that code loaded.
 */
function chunkHolding(...markers: string[]): (url: string) => boolean {
  return (url) => {
    if (!BUNDLE_FILE.test(url)) return false;
    const text = readFileSync(fileURLToPath(url), "utf8");
    return markers.some((marker) => text.includes(marker));
  };
}

/** zod's core, or the client's DaemonNotAnsweringError. */
const holdsZodOrClient = chunkHolding('$constructor("$ZodType"', 'name = "DaemonNotAnsweringError"');
/** The config schema (parsing a corral.yaml) or the process backend (supervising). */
const holdsConfigOrBackend = chunkHolding("var corralFileSchema = ", "var ProcessSupervisor = class");

describe("the corral command's start", () => {
  it("was built", () => assert.ok(existsSync(join(ROOT, "dist", "cli-bundle", "main.js")), "npm run build first (npm test does)"));
  for (const args of [["--help"], ["ps"], ["logs", "web"], ["events"]]) {
    it(`corral ${args.join(" ")} loads no daemon, fastify or Kubernetes code`, () => {
      const loaded = modulesLoadedBy(args);
      assert.ok(
        loaded.some((url) => url.endsWith("/dist/cli-bundle/main.js")),
        "the recorder saw the command",
      );
      for (const heavy of HEAVY)
        assert.deepEqual(
          loaded.filter((url) => heavy.test(url)),
          [],
          `${heavy} is not loaded`,
        );
    });
  }
  // They find their daemon by the project's folder, and read its answers with the API's schemas alone.
  for (const args of [["ps"], ["logs", "web"]]) {
    it(`corral ${args.join(" ")} loads neither the config schema nor the process backend`, () => {
      const loaded = modulesLoadedBy(args);
      assert.ok(loaded.some(BUNDLE_FILE.test.bind(BUNDLE_FILE)), "the recorder saw the chunks");
      assert.deepEqual(loaded.filter(holdsConfigOrBackend), []);
      assert.deepEqual(
        loaded.filter((url) => /\/dist\/(config|process)\//.test(url)),
        [],
      );
    });
  }
  it("corral --help loads neither the client nor zod", () => {
    const loaded = modulesLoadedBy(["--help"]);
    assert.deepEqual(
      loaded.filter((url) => /\/node_modules\/zod\/|\/dist\/cli\/client\.js$/.test(url) || holdsZodOrClient(url)),
      [],
    );
  });
});
