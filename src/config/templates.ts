// Argument templates: `%P:<port>` (this process's listen address for a port),
// `%N` (`<namespace>-<service>`), `%I` (the process index) and `%C` (the
// directory of its secret files). Kept as templates in the desired state and
// filled in per process at launch.

/** What a port reference looks like after `%P:`; trailing hyphens are text, since ids cannot end in one. */
const PORT_REFERENCE = /%P:([a-z0-9-]*)/g;

/** Why an argument's `%P:` references are wrong for these ports, or undefined when they are fine. */
export function checkArgTemplate(arg: string, portNames: readonly string[]): string | undefined {
  for (const match of arg.matchAll(PORT_REFERENCE)) {
    const name = match[1]!.replace(/-+$/, "");
    if (name === "") return '"%P:" must be followed by a port name';
    if (!portNames.includes(name)) {
      const declared = portNames.length === 0 ? "the service declares no ports" : `declared: ${portNames.join(", ")}`;
      return `%P:${name} names no port of the service (${declared})`;
    }
  }
  return undefined;
}

/** Why an argument's `%C` is wrong for a service with these secrets, or undefined when it is fine. */
export function checkSecretsTemplate(arg: string, secrets: readonly string[]): string | undefined {
  if (!arg.includes("%C") || secrets.length > 0) return undefined;
  return "%C is the directory of the service's secret files, and the service names no secrets";
}

export interface TemplateValues {
  /** `<namespace>-<service>` */
  fullName: string;
  processIndex: number;
  listenAddrs: Record<string, string>;
  /** The directory of the process's secret files (`%C`), when it has any. */
  secretsDirectory?: string;
}

/**
 * Fills in every template in one pass, so an address that happens to contain
 * `%I` is not rewritten again. Longer port names are tried first so `%P:http`
 * does not eat the start of `%P:http-admin`.
 */
export function interpolateArgs(args: readonly string[], values: TemplateValues): string[] {
  const names = Object.keys(values.listenAddrs).sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  const ports = names.map((n) => n.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&")).join("|");
  const pattern = new RegExp(ports === "" ? "%([NIC])" : `%(?:P:(${ports})|([NIC]))`, "g");
  return args.map((arg) =>
    arg.replace(pattern, (whole, ...groups: (string | undefined)[]) => {
      const [port, letter] = ports === "" ? [undefined, groups[0]] : [groups[0], groups[1]];
      if (port !== undefined) return values.listenAddrs[port]!;
      if (letter === "N") return values.fullName;
      if (letter === "I") return String(values.processIndex);
      if (letter === "C" && values.secretsDirectory !== undefined) return values.secretsDirectory;
      return whole;
    }),
  );
}
