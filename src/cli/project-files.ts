// How a command reads the project: every -f in order (else corral.yaml found
// upwards with its corral.override.yaml), --env-file, --profile and the
// services named on the command line, with the calling shell's environment.
import { Option } from "commander";
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

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** -f (repeatable), --env-file, --profile: what `up` and `config` take to read the project. */
export function projectOptions(): Option[] {
  return [
    new Option(
      "-f, --file <path>",
      "a corral.yaml; repeat to merge several in order (default: ./corral.yaml or above, and corral.override.yaml)",
    ).argParser(collect),
    new Option("--env-file <path>", "where ${VAR}s come from besides the shell (default: .env beside the file); repeatable").argParser(
      collect,
    ),
    new Option("--profile <name>", "also run the services of this profile (repeatable; default: $CORRAL_PROFILES)").argParser(collect),
  ];
}

/** A command's options with -f collected as a list: `file` the first (its folder is the project's), `files` all. */
export function withFiles<T extends { file?: string[] }>(o: T): Omit<T, "file"> & { file?: string; files?: string[] } {
  const { file, ...rest } = o;
  return { ...rest, ...(file && file.length > 0 && { file: file[0]!, files: file }) };
}
