// Which services of the file run: those without profiles, those with an
// enabled profile (--profile, CORRAL_PROFILES; "*" enables all), never a
// `disabled: true` one, as compose's profiles and process-compose's
// `disabled` work. Services named on the command line (`corral up web`) run
// with everything they depend on, whatever their profiles or `disabled`
// (naming a service enables it, as compose enables a named service's profiles).
import { ValidationError } from "../contract/errors.js";
import type { FieldPath } from "./field-path.js";
import type { CorralFile, ServiceEntry } from "./schema.js";
import type { Problem } from "./zod-issues.js";

export interface Selection {
  profiles: readonly string[];
  /** Services named on the command line; none: every enabled service. */
  targets?: readonly string[];
}

/** `CORRAL_PROFILES=debug,tools`, as COMPOSE_PROFILES is read. */
export function profilesFromEnv(env: NodeJS.ProcessEnv): string[] {
  return (env.CORRAL_PROFILES ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
}

export function selectServices(file: CorralFile, selection: Selection): { active: string[] } | { problems: Problem[] } {
  const ids = Object.keys(file.services);
  const deps = (id: string) => dependencyNames(file.services[id]!.dependsOn).filter((d) => Object.hasOwn(file.services, d));
  if (selection.targets && selection.targets.length > 0) {
    for (const target of selection.targets)
      if (!Object.hasOwn(file.services, target))
        throw new ValidationError("services", `no service "${target}" in the file (services: ${ids.join(", ")})`);
    const active = new Set<string>();
    const visit = (id: string) => {
      if (active.has(id)) return;
      active.add(id);
      deps(id).forEach(visit);
    };
    selection.targets.forEach(visit);
    return { active: ids.filter((id) => active.has(id)) };
  }
  const all = selection.profiles.includes("*");
  const why = (entry: ServiceEntry): string | undefined => {
    if (entry.disabled === true) return "it is disabled (disabled: true)";
    const profiles = entry.profiles ?? [];
    if (profiles.length === 0 || all || profiles.some((p) => selection.profiles.includes(p))) return undefined;
    return `it runs only with profile ${profiles.join(" or ")} (--profile ${profiles[0]!})`;
  };
  const active = ids.filter((id) => why(file.services[id]!) === undefined);
  const problems: Problem[] = [];
  for (const id of active) {
    const listed = file.services[id]!.dependsOn;
    for (const [i, dep] of dependencyNames(listed).entries()) {
      const reason = Object.hasOwn(file.services, dep) ? why(file.services[dep]!) : undefined;
      if (reason === undefined) continue;
      const path: FieldPath = Array.isArray(listed) ? ["services", id, "dependsOn", i] : ["services", id, "dependsOn", dep];
      problems.push({ path, rule: `names service ${dep}, which does not run: ${reason}`, at: Array.isArray(listed) ? "value" : "key" });
    }
  }
  return problems.length > 0 ? { problems } : { active };
}

function dependencyNames(listed: ServiceEntry["dependsOn"]): string[] {
  if (listed === undefined) return [];
  return Array.isArray(listed) ? [...listed] : Object.keys(listed);
}
