// Builds the dashboard into dist/web (served by the daemon, see src/server/dashboard.ts):
// app.js and app.css bundled by esbuild, index.html pointing at them. No CDN:
// everything the page loads comes from the daemon. Fails when the bundle grows
// past its budget of 150 KiB gzip (JS and CSS together).
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const BUDGET_BYTES = 150 * 1024;
const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "dist", "web");

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: join(here, "src", "main.tsx") },
  outdir: out,
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: ["chrome111", "firefox113", "safari16.2"],
  jsx: "automatic",
  jsxImportSource: "preact",
  logLevel: "warning",
});

const js = await readFile(join(out, "app.js"));
const css = await readFile(join(out, "app.css"));
const version = createHash("sha1").update(js).update(css).digest("hex").slice(0, 12);
const html = (await readFile(join(here, "index.html"), "utf8")).replaceAll("__VERSION__", version);
await writeFile(join(out, "index.html"), html);

const size = {
  jsBytes: js.length,
  cssBytes: css.length,
  jsGzipBytes: gzipSync(js, { level: 9 }).length,
  cssGzipBytes: gzipSync(css, { level: 9 }).length,
};
size.totalGzipBytes = size.jsGzipBytes + size.cssGzipBytes;
await writeFile(join(out, "size.json"), `${JSON.stringify(size, null, 2)}\n`);
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(
  `dashboard: app.js ${kib(size.jsBytes)} (${kib(size.jsGzipBytes)} gzip), app.css ${kib(size.cssBytes)} (${kib(size.cssGzipBytes)} gzip); total ${kib(size.totalGzipBytes)} gzip of ${kib(BUDGET_BYTES)}`,
);
if (size.totalGzipBytes > BUDGET_BYTES) {
  console.error(`dashboard: over budget by ${kib(size.totalGzipBytes - BUDGET_BYTES)}`);
  process.exit(1);
}
