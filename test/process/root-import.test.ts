// Importing the package root to run processes loads no Kubernetes client, no
// fastify, no daemon and no YAML parser: those load when something uses them.
// The root is one bundled file (build/bundle.mjs); it must stay that way:
// a root that pulls dist/ modules back in pays Node's loader per file again.
// Checked on the built package in a fresh Node process, by recording every ES
// module it resolves (test/fixtures/import-recorder) and every CommonJS module
// in its require cache (zod and yaml are loaded through `require`, which the
// recorder's hooks do not see).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { FIXTURES } from "../helpers.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** What `import "corral"` loads: the file package.json's exports name (the bundle build/bundle.mjs writes). */
const ROOT_EXPORT = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { exports: { ".": { import: string } } }).exports["."]
  .import;
const PACKAGE_ROOT = join(ROOT, ROOT_EXPORT);

// The child imports the root, then uses two of its lazy paths (render a manifest,
// parse a corral.yaml), noting what the require cache holds after each step.
const PROBE = `
import { createRequire } from "node:module";
const required = () => Object.keys(createRequire(import.meta.url).cache);
const [url, dir] = process.argv.slice(2);
const root = await import(url);
const report = { afterImport: required() };
root.renderManifests("ns", "web", { image: "nginx", scale: 1 });
report.afterRender = required();
root.parseConfig("services:\\n  web:\\n    command: /bin/sleep\\n    args: ['1']\\n", { file: "corral.yaml", baseDir: dir });
report.afterParse = required();
report.createIsStatic = typeof root.KubernetesOrchestrator.create === "function";
process.stdout.write(JSON.stringify(report));
`;

interface Report {
  esm: string[];
  afterImport: string[];
  afterRender: string[];
  afterParse: string[];
  createIsStatic: boolean;
}

function probe(): Report {
  const dir = mkdtempSync(join(tmpdir(), "corral-root-import-"));
  try {
    const log = join(dir, "imports.log");
    const script = join(dir, "probe.mjs");
    writeFileSync(script, PROBE);
    const result = spawnSync(
      process.execPath,
      ["--import", join(FIXTURES, "import-recorder", "register.mjs"), script, pathToFileURL(PACKAGE_ROOT).href, dir],
      { cwd: dir, encoding: "utf8", env: { ...process.env, CORRAL_IMPORT_LOG: log } },
    );
    assert.equal(result.status, 0, `the probe failed: ${result.stderr}`);
    const parsed = JSON.parse(result.stdout) as Omit<Report, "esm">;
    return { ...parsed, esm: readFileSync(log, "utf8").trim().split("\n") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const HEAVY = [/\/node_modules\/@kubernetes\//, /\/node_modules\/fastify\//, /\/node_modules\/@fastify\//, /\/dist\/server\//];
const YAML = /\/node_modules\/yaml\//;

describe("importing the package root", () => {
  it("was built", () => assert.ok(existsSync(PACKAGE_ROOT), "npm run build first (npm test does)"));

  it("loads neither the Kubernetes client nor fastify nor the daemon, even to render manifests and parse a corral.yaml", () => {
    const report = probe();
    assert.ok(
      report.esm.some((url) => url.endsWith(ROOT_EXPORT.slice(1))),
      "the recorder saw the package root",
    );
    assert.ok(report.createIsStatic, "KubernetesOrchestrator.create is exported");
    const loaded = [...report.esm, ...report.afterParse];
    for (const heavy of HEAVY)
      assert.deepEqual(
        loaded.filter((url) => heavy.test(url)),
        [],
        `${heavy} is not loaded`,
      );
  });

  it("is one file: no other module of dist/ and no file of zod is loaded with it", () => {
    const report = probe();
    const own = ROOT_EXPORT.slice(1);
    assert.deepEqual(
      report.esm.filter((url) => url.includes("/dist/") && !url.endsWith(own)),
      [],
    );
    assert.deepEqual(
      [...report.esm, ...report.afterImport].filter((p) => /\/node_modules\/zod\//.test(p)),
      [],
    );
  });

  it("loads the YAML parser on the first parse, not on import", () => {
    const report = probe();
    assert.deepEqual(
      [...report.esm, ...report.afterImport, ...report.afterRender].filter((p) => YAML.test(p)),
      [],
    );
    assert.ok(
      report.afterParse.some((p) => YAML.test(p)),
      "parseConfig loaded yaml",
    );
  });
});
