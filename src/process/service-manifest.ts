// `<runDir>/service.json`: what a run directory belongs to and how to stop
// what runs in it. It lets a later instance list leftovers of an earlier one
// per namespace without guessing from directory names (`a` + `b-c` and `a-b`
// + `c` both make `a-b-c`), and stop them with the right signal and grace.
import { readFile } from "node:fs/promises";
import { z } from "../util/zod.js";
import { isKnownSignal } from "./signals.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { reportSurvivable } from "../util/diagnostics.js";
import { isErrno } from "../util/errno.js";
import { parseJsonRecord } from "../util/json-record.js";
import type { ServiceSpecs } from "./launch-spec.js";
import { join } from "node:path";
import { listDir, manifestFile } from "./run-dir.js";

const manifestSchema = z.object({
  namespace: z.string(),
  id: z.string(),
  scale: z.number().int().min(0),
  image: z.string(),
  ports: z.array(z.string()),
  labels: z.record(z.string(), z.string()),
  stopSignal: z.custom<NodeJS.Signals>((value) => typeof value === "string" && isKnownSignal(value)),
  terminationGracePeriodMs: z.number().int().min(0),
  scratchDirectory: z.string().optional(),
  updatedAt: z.string(),
});

export type ServiceManifest = z.infer<typeof manifestSchema>;

/** The manifest of a run directory; null when there is none, or it is not one corral wrote (torn, foreign, older). */
export async function readManifest(runDir: string): Promise<ServiceManifest | null> {
  const path = manifestFile(runDir);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (!isErrno(error, "ENOENT", "ENOTDIR")) reportSurvivable("process.manifest", "read", error, { path });
    return null;
  }
  return parseJsonRecord(text, manifestSchema);
}

/** The manifest of a service's desired config. */
export function manifestOf(namespace: string, specs: ServiceSpecs): ServiceManifest {
  const { id, config, paths } = specs;
  return {
    namespace,
    id,
    scale: config.scale,
    image: specs.image,
    ports: config.ports.map((p) => p.name),
    labels: config.labels,
    stopSignal: config.stopSignal,
    terminationGracePeriodMs: config.terminationGracePeriodMs,
    ...(paths.scratchDir ? { scratchDirectory: paths.scratchDir } : {}),
    updatedAt: new Date().toISOString(),
  };
}

export async function writeManifest(runDir: string, manifest: ServiceManifest): Promise<void> {
  // The same manifest again (an adoption, an unchanged apply) is not rewritten: a daemon restarted on a
  // full disk adopts what runs without needing a byte of room.
  const recorded = await readManifest(runDir);
  if (recorded && JSON.stringify({ ...recorded, updatedAt: "" }) === JSON.stringify({ ...manifest, updatedAt: "" })) return;
  await writeFileAtomic(manifestFile(runDir), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Every service that has a run directory under `stateDir`, whatever its namespace, as its manifest names it. */
export async function recordedServices(stateDir: string): Promise<{ namespace: string; id: string }[]> {
  const manifests = await Promise.all((await listDir(stateDir)).map((name) => readManifest(join(stateDir, name))));
  return manifests.flatMap((manifest) => (manifest ? [{ namespace: manifest.namespace, id: manifest.id }] : []));
}
