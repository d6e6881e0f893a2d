// How a command reads the project: every -f in order (else corral.yaml found
// upwards with its corral.override.yaml), --env-file, --profile and the
// services named on the command line, with the calling shell's environment.
import { loadProject, type LoadedProject } from "../config/project.js";
import type { GlobalOptions } from "./context.js";

export interface ProjectOptions extends GlobalOptions {
  /** Every -f, in order, where the command collected several. */
  files?: string[];
  envFile?: string[];
  profile?: string[];
}

export function filesOf(options: ProjectOptions): string[] | undefined {
  if (options.files && options.files.length > 0) return options.files;
  return options.file !== undefined ? [options.file] : undefined;
}

export function loadCliProject(options: ProjectOptions, services?: readonly string[]): LoadedProject {
  const files = filesOf(options);
  return loadProject({
    ...(files && { files }),
    ...(options.envFile && options.envFile.length > 0 && { envFiles: options.envFile }),
    ...(options.profile && options.profile.length > 0 && { profiles: options.profile.flatMap((p) => p.split(",")) }),
    ...(services && services.length > 0 && { services }),
  });
}
