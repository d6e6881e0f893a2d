// Regenerates schema/corral.schema.json: `node --import tsx src/config/write-schema.ts [out]`.
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { corralConfigJsonSchema } from "./json-schema.js";

const out = resolve(process.argv[2] ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../schema/corral.schema.json"));
await mkdir(dirname(out), { recursive: true });
// Written aside and renamed, so an editor never reads half a schema.
const tmp = `${out}.${process.pid}.tmp`;
await writeFile(tmp, `${JSON.stringify(corralConfigJsonSchema(), null, 2)}\n`);
await rename(tmp, out);
console.log(`wrote ${out}`);
