// `corral config`: the file as corral resolved it (docker compose config):
// interpolated, the -f files and corral.override.yaml merged, extends applied,
// only the services that run. Its output is itself a corral.yaml (`$` written
// `$$`), so `corral config > all.yaml; corral up -f all.yaml` applies the same
// desired state.
import { stringify } from "yaml";
import { CliError, EXIT } from "./context.js";
import { loadCliProject, type ProjectOptions } from "./project-files.js";

export interface ConfigOptions extends ProjectOptions {
  json?: boolean;
  services?: boolean;
  why?: string;
}

export function config(services: string[], options: ConfigOptions): void {
  if ([options.json, options.services, options.why !== undefined].filter(Boolean).length > 1)
    throw new CliError("--json, --services and --why are exclusive", EXIT.usage);
  const project = loadCliProject(options, services);
  if (options.services) {
    process.stdout.write(
      Object.keys(project.state.services)
        .map((id) => `${id}\n`)
        .join(""),
    );
    return;
  }
  if (options.why !== undefined) {
    const lines = project.why(options.why);
    const width = Math.max(...lines.map((l) => l.field.length));
    for (const line of lines) {
      const from = line.variables.map((v) => `$${v.name} from ${v.from ?? "a default"}`).join(", ");
      process.stdout.write(
        `${line.field.padEnd(width)}  ${JSON.stringify(line.value)}  ${line.at ?? "(not written: a default)"}${from ? ` (${from})` : ""}\n`,
      );
    }
    return;
  }
  process.stdout.write(options.json ? `${JSON.stringify(project.resolved, null, 2)}\n` : stringify(project.resolved, { lineWidth: 0 }));
}
