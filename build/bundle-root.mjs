// Bundles the package root (dist/index.js, as tsc wrote it) into one ES module,
// dist/bundle/index.js, which package.json's "exports" names. Importing ~150
// small files costs Node's loader more than running them (115 ms against ~60 ms
// for the bundle on these machines; bench/import-cost.mjs measures it). zod is
// bundled in (its ES build in one file, so no locale files are opened at all,
// see src/util/zod.ts); every other package stays external, and what the root
// loads lazily (the Kubernetes client, yaml) is still loaded only when used.
// The CLI and the daemon run from dist/ as tsc wrote it.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundled = (specifier) => specifier === "zod" || specifier.startsWith("zod/");

await build({
  entryPoints: { index: join(root, "dist", "index.js") },
  outdir: join(root, "dist", "bundle"),
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  plugins: [
    {
      name: "corral-root",
      setup(b) {
        // Bare specifiers of other packages stay imports; zod and zod's own files are bundled.
        b.onResolve({ filter: /^[^./]/ }, (args) =>
          bundled(args.path) || args.importer.includes(`${join("node_modules", "zod")}`) ? undefined : { path: args.path, external: true },
        );
        // src/util/zod.ts loads zod's CommonJS build with require (to open one file at a time); bundled, its ES build is one file already.
        b.onLoad({ filter: /[\\/]dist[\\/]util[\\/]zod\.js$/ }, () => ({
          contents: 'export { z } from "zod";',
          loader: "js",
          resolveDir: root,
        }));
      },
    },
  ],
});
