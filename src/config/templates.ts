// Argument templates: `%P:<port>` (this process's listen address for a port),
// `%D:<port>` (its socket directory, for a port with socketDir), `%A:<port>`
// (the service address, balanced over the ready processes), `%V:<volume>`
// (a volume's directory), `%S` (the scratch directory), `%C` (the directory of
// its secret files), `%N` (`<namespace>-<service>`) and `%I` (the process
// index). Kept as templates in the desired state and filled in per process at launch.

/** A reference after `%P:`, `%D:`, `%A:` or `%V:`; trailing hyphens are text, since ids cannot end in one. */
const NAMED_REFERENCE = /%([PDAV]):([a-z0-9-]*)/g;

/** What an argument may refer to. */
export interface TemplateScope {
  ports: readonly { name: string; socketDir?: boolean }[];
  /** The volumes the file declares; undefined when not known here (checked where they are). */
  volumes?: readonly string[];
  /** Whether the service has a scratch directory (`disk`). */
  scratch: boolean;
}

/** Why an argument's references are wrong for this service, or undefined when they are fine. */
export function checkArgTemplate(arg: string, scope: TemplateScope): string | undefined {
  const portNames = scope.ports.map((p) => p.name);
  for (const match of arg.matchAll(NAMED_REFERENCE)) {
    const kind = match[1]!;
    const name = match[2]!.replace(/-+$/, "");
    if (name === "") return `"%${kind}:" must be followed by a ${kind === "V" ? "volume" : "port"} name`;
    if (kind === "V") {
      if (scope.volumes && !scope.volumes.includes(name)) return `%V:${name} names no volume (${listed("volumes", scope.volumes)})`;
      continue;
    }
    if (!portNames.includes(name)) return `%${kind}:${name} names no port of the service (${listed("ports", portNames)})`;
    if (kind === "D" && !scope.ports.find((p) => p.name === name)!.socketDir)
      return `%D:${name} is the socket directory of a port with socketDir: true; ${name} has none (use %P:${name} for its socket)`;
  }
  if (arg.includes("%S") && !scope.scratch) return "%S is the scratch directory: the service needs disk: true to have one";
  return undefined;
}

/** The volumes an argument refers to with `%V:`. */
export function volumeReferences(arg: string): string[] {
  return [...arg.matchAll(NAMED_REFERENCE)].filter((m) => m[1] === "V" && m[2] !== "").map((m) => m[2]!.replace(/-+$/, ""));
}

function listed(what: string, names: readonly string[]): string {
  return names.length === 0 ? `the service declares no ${what}` : `declared: ${names.join(", ")}`;
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
  /** Port name → socket directory (socketDir ports). */
  socketDirs?: Record<string, string>;
  /** Port name → the service address. */
  serviceAddrs?: Record<string, string>;
  /** Volume name → directory. */
  volumes?: Record<string, string>;
  scratchDirectory?: string;
  /** The directory of the process's secret files (`%C`), when it has any. */
  secretsDirectory?: string;
}

const PLACEHOLDER = /%(?:([PDAV]):([a-z0-9-]+)|([NISC]))/g;

/** Whether a value holds a placeholder interpolateArgs fills in (an env value that does is computed per process). */
export function hasPlaceholder(value: string): boolean {
  return new RegExp(PLACEHOLDER.source).test(value);
}

/**
 * Fills in every template in one pass, so an address that happens to contain
 * `%I` is not rewritten again. A name takes the longest port (or volume) it
 * starts with, so `%P:http` does not eat the start of `%P:http-admin`. An
 * unknown `%P:` stays text, as it always has; a `%D:`, `%V:` or `%S` with no
 * value here (they exist only on the process backend) is an error, as is a `%C`
 * for a service without secrets.
 */
export function interpolateArgs(args: readonly string[], values: TemplateValues): string[] {
  const maps: Record<string, Record<string, string> | undefined> = {
    P: values.listenAddrs,
    D: values.socketDirs,
    A: values.serviceAddrs,
    V: values.volumes,
  };
  return args.map((arg) =>
    arg.replace(PLACEHOLDER, (whole, kind: string | undefined, token: string | undefined, letter: string | undefined) => {
      if (letter === "N") return values.fullName;
      if (letter === "I") return String(values.processIndex);
      if (letter === "S") {
        if (values.scratchDirectory === undefined) throw new Error("%S: this service has no scratch directory here");
        return values.scratchDirectory;
      }
      if (letter === "C") {
        if (values.secretsDirectory === undefined) throw new Error("%C: this service has no secret files here");
        return values.secretsDirectory;
      }
      const map = maps[kind!] ?? {};
      const name = Object.keys(map)
        .filter((candidate) => token!.startsWith(candidate))
        .reduce<string | undefined>(
          (longest, candidate) => (longest && longest.length >= candidate.length ? longest : candidate),
          undefined,
        );
      if (name !== undefined) return map[name]! + token!.slice(name.length);
      if (kind === "P") return whole;
      throw new Error(
        `%${kind}:${token!.replace(/-+$/, "")} has no value here (socket directories, service sockets and volumes exist only on the process backend)`,
      );
    }),
  );
}
