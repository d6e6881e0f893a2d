import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { delimiter, isAbsolute, resolve } from "node:path";

export type CommandResolution = { path: string } | { problem: string };

/**
 * An absolute path for `command`: a path (anything with a slash) relative to
 * the file's folder, or a name looked up on PATH as a shell would. Checked now
 * so a typo is reported with its line, not as a crash loop later.
 */
export function resolveCommand(command: string, baseDir: string, env: NodeJS.ProcessEnv): CommandResolution {
  if (command.includes("/")) {
    const path = isAbsolute(command) ? command : resolve(baseDir, command);
    const problem = executableProblem(path);
    return problem === undefined ? { path } : { problem: `${JSON.stringify(command)} ${problem}${path === command ? "" : ` (${path})`}` };
  }
  const dirs = (env.PATH ?? "").split(delimiter).filter((d) => d !== "");
  for (const dir of dirs) {
    const path = resolve(dir, command);
    if (executableProblem(path) === undefined) return { path };
  }
  return { problem: `${JSON.stringify(command)} was not found on PATH${dirs.length === 0 ? " (PATH is empty)" : ""}` };
}

function executableProblem(path: string): string | undefined {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    return "does not exist";
  }
  if (!stats.isFile()) return "is not a file";
  try {
    accessSync(path, fsConstants.X_OK);
  } catch {
    return "is not executable";
  }
  return undefined;
}
