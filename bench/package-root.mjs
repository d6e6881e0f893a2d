// The file `import "corral"` loads, as package.json's exports name it (the
// bundle build/bundle.mjs writes), so the benchmark measures what users get.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export function packageRootFile(projectRoot) {
  const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8"));
  return join(projectRoot, pkg.exports["."].import);
}
