// Bundles what tsc wrote into dist/ where Node's loader costs more than the code:
//  - the package root (dist/index.js) into one ES module, dist/bundle/index.js,
//    which package.json's "exports" names. Importing ~150 small files costs more
//    than running them (115 ms against ~60 ms for the bundle on these machines;
//    bench/import-cost.mjs measures it).
//  - the corral command (dist/cli/main.js) into dist/cli-bundle/, split into
//    chunks at its dynamic imports, so a command still loads only what it uses
//    (`corral ps` neither the daemon nor fastify; test/cli/lazy-imports.test.ts)
//    and the daemon `up` starts runs from the same chunks. It sits at the depth
//    of dist/cli/, so the paths it finds beside itself (package.json, main.js,
//    the dashboard's dist/web) are the same.
// zod is bundled in (its ES build in one file, so no locale files are opened at
// all, see src/util/zod.ts), and only the part of it corral calls: `z` is
// rebuilt from the members tsc's output uses, so esbuild drops the rest (every
// locale but the default, JSON Schema import, the compiler: 734 of zod's KB
// become ~200, which Node no longer compiles at each start). Every other package
// stays external, and what is loaded lazily (the Kubernetes client, yaml) is
// still loaded only when used.
// Every output is ASCII (see asciiOnly).
// The "./daemon" export runs from dist/ as tsc wrote it.
import { build } from "esbuild";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { z as zod } from "zod";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundled = (specifier) => specifier === "zod" || specifier.startsWith("zod/");

/** Every `z.<member>` in tsc's output (types are erased there, so these are the values corral uses). */
function zodMembersUsed() {
  const members = new Set();
  // Not the bundles themselves (earlier builds') nor the dashboard's.
  const skip = new Set(["bundle", "cli-bundle", "web"]);
  const dist = join(root, "dist");
  for (const file of readdirSync(dist, { recursive: true, encoding: "utf8" })) {
    if (!file.endsWith(".js") || skip.has(file.split(sep)[0])) continue;
    for (const [, member] of readFileSync(join(dist, file), "utf8").matchAll(/\bz\.([A-Za-z_$][\w$]*)/g)) members.add(member);
  }
  // Comments and other objects named z can match too: only zod's own exports count.
  const used = [...members].filter((member) => Object.hasOwn(zod, member)).sort();
  if (used.length === 0) throw new Error("bundle: no use of zod found in dist/ (run tsc first)");
  return used;
}

/** The `z` of src/util/zod.ts, made of named imports esbuild can shake the rest of zod from. */
function zodEntry() {
  const members = zodMembersUsed();
  // Aliased: some members (enum) are reserved words, fine as import names but not as bindings.
  const imports = members.map((m) => `${m} as zod_${m}`).join(", ");
  const fields = members.map((m) => `${m}: zod_${m}`).join(", ");
  return `import { ${imports} } from "zod";\nexport const z = Object.freeze({ ${fields} });\n`;
}

/** Bare specifiers of other packages stay imports; zod and zod's own files are bundled. */
const corralPlugin = {
  name: "corral",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      bundled(args.path) || args.importer.includes(`${join("node_modules", "zod")}`) ? undefined : { path: args.path, external: true },
    );
    // src/util/zod.ts loads zod's CommonJS build with require (to open one file at a time); bundled, its ES build is one file already.
    b.onLoad({ filter: /[\\/]dist[\\/]util[\\/]zod\.js$/ }, () => ({
      contents: zodEntry(),
      loader: "js",
      resolveDir: root,
    }));
  },
};

const common = {
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  plugins: [corralPlugin],
};

/**
 * esbuild escapes what is outside ASCII in strings and names but keeps comments as written,
 * and one "→" in a comment makes V8 hold the whole module's source as a two-byte string
 * (the package root: 1.25 MB of heap instead of 627 KB). Escaped, in a comment or anywhere
 * else esbuild left one, the character means the same.
 */
function asciiOnly(dir) {
  for (const file of readdirSync(dir)) {
    if (!file.endsWith(".js")) continue;
    const path = join(dir, file);
    const text = readFileSync(path, "utf8");
    // Code unit by code unit: a character outside the BMP becomes its two surrogates' escapes.
    const escaped = text.replace(/[^\0-\x7f]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`);
    if (escaped !== text) writeFileSync(path, escaped);
  }
}

// Chunk names carry a content hash: the last build's must not stay beside this one's.
rmSync(join(root, "dist", "cli-bundle"), { recursive: true, force: true });
await Promise.all([
  build({ ...common, entryPoints: { index: join(root, "dist", "index.js") }, outdir: join(root, "dist", "bundle") }),
  build({
    ...common,
    entryPoints: { main: join(root, "dist", "cli", "main.js") },
    outdir: join(root, "dist", "cli-bundle"),
    splitting: true,
    chunkNames: "[name]-[hash]",
  }),
]);
for (const dir of ["bundle", "cli-bundle"]) asciiOnly(join(root, "dist", dir));
