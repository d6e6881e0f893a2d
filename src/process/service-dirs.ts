// The directories a service's processes use, made before they start, with the
// owners and modes that keep each one to whom it belongs. For a service run as
// another user: the run directory stays corral's and only traversable (0711),
// so the user reaches its sockets but can neither read nor replace the PID
// records and service.json corral trusts; its sockets home, socket
// directories, scratch and volumes are the user's alone (0700).
import { chmod, mkdir } from "node:fs/promises";
import type { LaunchSpec, ServiceSpecs } from "./launch-spec.js";
import { createOwnedDirectory, ensureOwnedDirectory } from "./owned-dirs.js";

const PRIVATE = 0o700;
const TRAVERSABLE = 0o711;

/** The run, log, scratch and volume directories of a service, made or fixed up for its current config. */
export async function prepareServiceDirectories(specs: ServiceSpecs, volumeDirectory: string): Promise<void> {
  const { paths, runAs } = specs;
  await mkdir(paths.runDir, { recursive: true });
  await mkdir(paths.logDir, { recursive: true });
  if (runAs) {
    await chmod(paths.runDir, TRAVERSABLE);
    ensureOwnedDirectory(paths.socketHome, PRIVATE, runAs);
  }
  if (paths.scratchDir) {
    if (runAs) ensureOwnedDirectory(paths.scratchDir, PRIVATE, runAs);
    else await mkdir(paths.scratchDir, { recursive: true });
  }
  const volumes = Object.values(specs.volumes);
  // Traversable but not listable: a service run as another user reaches its own volume, and learns no other's name.
  if (volumes.length > 0 && (await mkdir(volumeDirectory, { recursive: true }))) await chmod(volumeDirectory, TRAVERSABLE);
  // A volume is made once, for the user of the first service that uses it; ServiceSpecs.prepare refused any other user's.
  for (const path of volumes) createOwnedDirectory(path, PRIVATE, runAs);
}

/**
 * Each socket directory of a process, made (again) right before it is
 * launched: the process may have removed it or left something else there, and
 * one in the temp dir may have been made by anyone.
 */
export function prepareSocketDirectories(spec: LaunchSpec): void {
  for (const dir of Object.values(spec.socketDirs ?? {})) ensureOwnedDirectory(dir, PRIVATE, spec.user, { replaceForeign: true });
}
