// `<runDir>/service.json`: what a run directory belongs to and how to stop
// what runs in it. It lets a later instance list leftovers of an earlier one
// per namespace without guessing from directory names (`a` + `b-c` and `a-b`
// + `c` both make `a-b-c`), and stop them with the right signal and grace.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-write.js";

export interface ServiceManifest {
  namespace: string;
  id: string;
  scale: number;
  image: string;
  ports: string[];
  labels: Record<string, string>;
  stopSignal: NodeJS.Signals;
  terminationGracePeriodMs: number;
  scratchDirectory?: string;
  updatedAt: string;
}

export const MANIFEST_FILE = "service.json";

export async function readManifest(runDir: string): Promise<ServiceManifest | null> {
  try {
    const value = JSON.parse(await readFile(join(runDir, MANIFEST_FILE), "utf8")) as Partial<ServiceManifest>;
    if (typeof value.namespace !== "string" || typeof value.id !== "string") return null;
    return value as ServiceManifest;
  } catch {
    return null;
  }
}

export async function writeManifest(runDir: string, manifest: ServiceManifest): Promise<void> {
  await writeFileAtomic(join(runDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}
