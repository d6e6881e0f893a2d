// From a file that has the right shape to the desired state: defaults filled
// in, command and envFile resolved against the file's folder, and the checks
// that need more than one field at a time.
import { readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { ValidationError } from "../contract/errors.js";
import type { ReadinessProbe, ServicePort } from "../contract/types.js";
import { portNameProblem } from "../contract/rules.js";
import { resolveCommand } from "./command.js";
import { SHELL } from "./shell-command.js";
import { findCycle } from "./cycle.js";
import { parseDurationMs } from "./durations.js";
import { parseEnvFile } from "./env-file.js";
import type { SourcePosition } from "./errors.js";
import type { FieldPath } from "./field-path.js";
import type { CorralFile, ServiceEntry } from "./schema.js";
import { normalizeSignal } from "./signals.js";
import { checkArgTemplate, checkSecretsTemplate, hasPlaceholder } from "./templates.js";
import { toServiceConfig, usedVolumes } from "./translate.js";
import { probePortProblems } from "../contract/probe-rules.js";
import { metricsPortProblem } from "../contract/metrics-target.js";
import { restartFields } from "./restart.js";
import { resolveServiceUser, serviceRunAs } from "../process/users.js";
import type { DependencyCondition, DesiredState, ServiceSpec } from "./types.js";
import type { Problem } from "./zod-issues.js";

/** A problem found in another file (an envFile): reported there, ordered by where that file is named. */
export interface BuildProblem extends Problem {
  elsewhere?: { file: string; position: SourcePosition };
}

export interface BuildContext {
  /** The config file as the user named it, for messages about files it names. */
  file: string;
  baseDir: string;
  env: NodeJS.ProcessEnv;
  environment: string;
}

export function buildState(parsed: CorralFile, ctx: BuildContext): { state: DesiredState } | { problems: BuildProblem[] } {
  const problems: BuildProblem[] = [];
  const namespace = parsed.namespace ?? "default";
  const services: Record<string, ServiceSpec> = {};
  const backend = parsed.backend ?? "process";
  if (backend === "process") {
    for (const field of ["kubeconfig", "kubernetesNamespace"] as const) {
      if (parsed[field] !== undefined) problems.push({ path: [field], rule: "is only for backend: kubernetes", at: "key" });
    }
  }
  const volumes = Object.keys(parsed.volumes ?? {});
  if (backend === "kubernetes" && parsed.volumes !== undefined)
    problems.push({ path: ["volumes"], rule: "is for backend: process (on a cluster, use a PersistentVolumeClaim)", at: "key" });
  for (const [id, entry] of Object.entries(parsed.services)) {
    const spec = buildService(entry, ["services", id], { ...ctx, backend, volumes }, problems);
    checkDependencies(entry, ["services", id], parsed, problems);
    services[id] = spec;
  }
  checkVolumeUsers(parsed, services, problems);
  const ids = Object.keys(parsed.services);
  const cycle = findCycle(new Map(ids.map((id) => [id, Object.keys(services[id]!.dependsOn)])), ids);
  if (cycle) {
    const [from, to] = cycle as [string, string];
    const listed = parsed.services[from]!.dependsOn;
    const at: FieldPath = Array.isArray(listed) ? ["services", from, "dependsOn", listed.indexOf(to)] : ["services", from, "dependsOn", to];
    problems.push({ path: at, rule: `dependency cycle: ${cycle.join(" -> ")}`, at: Array.isArray(listed) ? "value" : "key" });
  }
  if (problems.length > 0) return { problems };
  // The contract's own checks (label syntax, ...) with the daemon's exact rules.
  for (const [id, spec] of Object.entries(services)) {
    try {
      toServiceConfig(spec, { namespace, serviceId: id });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      // The contract words rules about keys as "label keys ..." / "environment variable names ...": point at the key then.
      const aboutKey = /^(label keys|environment variable names)/.test(error.rule);
      problems.push({ path: ["services", id, ...fileFieldOf(error.field)], rule: error.rule, at: aboutKey ? "key" : "value" });
    }
  }
  if (problems.length > 0) return { problems };
  const state: DesiredState = { environment: parsed.environment ?? ctx.environment, namespace, services };
  if (parsed.volumes !== undefined) state.volumes = Object.fromEntries(volumes.map((name) => [name, {}]));
  if (backend === "kubernetes") {
    state.backend = "kubernetes";
    state.kubernetes = {
      ...(parsed.kubeconfig !== undefined ? { kubeconfig: resolve(ctx.baseDir, parsed.kubeconfig) } : {}),
      ...(parsed.kubernetesNamespace !== undefined ? { namespace: parsed.kubernetesNamespace } : {}),
    };
  }
  return { state };
}

function buildService(
  entry: ServiceEntry,
  at: FieldPath,
  ctx: BuildContext & { backend: "process" | "kubernetes"; volumes: readonly string[] },
  problems: BuildProblem[],
): ServiceSpec {
  const ports: ServicePort[] = (entry.ports ?? []).map((p) => (typeof p === "string" ? { name: p } : { ...p }));
  const portNames = ports.map((p) => p.name);
  for (const [i, name] of (entry.expose ?? []).entries()) {
    const port = ports.find((p) => p.name === name);
    if (port === undefined) problems.push({ path: [...at, "expose", i], rule: portNameProblem(name, portNames)!, at: "value" });
    else if (port.expose === false)
      problems.push({ path: [...at, "expose", i], rule: `names port ${name}, whose own expose is false: give one of them`, at: "value" });
    else port.expose ??= true;
  }
  const args = (entry.args ?? []).map(String);
  const scope = { ports, volumes: ctx.volumes, scratch: entry.disk !== undefined && entry.disk !== false };
  for (const [i, arg] of args.entries()) {
    const problem = checkArgTemplate(arg, scope) ?? checkSecretsTemplate(arg, entry.secrets ?? []);
    if (problem !== undefined) problems.push({ path: [...at, "args", i], rule: problem, at: "value" });
  }
  if (entry.shell !== undefined) checkShell(entry, entry.shell, at, scope, ctx.backend, problems);
  for (const [i, name] of (entry.volumes ?? []).entries()) {
    if (!ctx.volumes.includes(name)) {
      const declared = ctx.volumes.length === 0 ? "the file declares no volumes" : `declared: ${ctx.volumes.join(", ")}`;
      problems.push({ path: [...at, "volumes", i], rule: `names no volume of this file (${declared})`, at: "value" });
    }
  }
  const readiness = entry.readiness && buildReadiness(entry.readiness);
  for (const probe of probePortProblems(entry, portNames)) problems.push({ path: [...at, ...probe.path], rule: probe.rule, at: "value" });
  const metricsProblem = metricsPortProblem(entry.metrics, portNames);
  if (metricsProblem !== undefined) problems.push({ path: [...at, "metrics", "port"], rule: metricsProblem, at: "value" });

  const { plain, fromSecrets } = splitEnv(entry.env);
  const env = { ...readEnvFiles(entry.envFile, at, ctx, problems), ...plain };
  // A variable from a secret wins over an envFile's line of the same name, as env does.
  for (const name of Object.keys(fromSecrets)) delete env[name];
  const spec: ServiceSpec = {
    args,
    ports,
    scale: entry.scale ?? 1,
    env,
    labels: stringMap(entry.labels),
    dependsOn: dependencyMap(entry.dependsOn),
  };
  // env values take the placeholders args take, filled in per process (the process backend's: a cluster's pods get env as written).
  for (const [name, value] of Object.entries(plain)) {
    const problem =
      ctx.backend === "kubernetes" && hasPlaceholder(value)
        ? "placeholders (%P:, %D:, %V:, %S, %C, %N, %I) in env are filled in on the process backend only"
        : (checkArgTemplate(value, scope) ?? checkSecretsTemplate(value, entry.secrets ?? []));
    if (problem !== undefined) problems.push({ path: [...at, "env", name], rule: problem, at: "value" });
  }
  const volumes = usedVolumes({ args, volumes: entry.volumes ?? [], env, shell: entry.shell });
  if (volumes.length > 0) spec.volumes = volumes;
  if (entry.user !== undefined) spec.user = entry.user;
  if (entry.group !== undefined) spec.group = entry.group;
  if (entry.secrets !== undefined && entry.secrets.length > 0) spec.secrets = [...entry.secrets];
  if (Object.keys(fromSecrets).length > 0) spec.secretEnv = fromSecrets;
  if (ctx.backend === "kubernetes") {
    for (const field of ["user", "group"] as const) {
      const value = entry[field];
      if (typeof value === "string" && !/^\d+$/.test(value))
        problems.push({
          path: [...at, field],
          rule: `must be a numeric ${field === "user" ? "uid" : "gid"} with backend: kubernetes`,
          at: "value",
        });
    }
    for (const [i, port] of ports.entries()) {
      if (port.socketDir !== undefined)
        problems.push({ path: [...at, "ports", i, "socketDir"], rule: "is for backend: process", at: "key" });
    }
    for (const probe of ["readiness", "startup"] as const)
      if (entry[probe]?.logLine !== undefined)
        problems.push({
          path: [...at, probe, "logLine"],
          rule: "is for backend: process (a Kubernetes probe cannot read log lines)",
          at: "key",
        });
    if (typeof entry.restart === "object" && entry.restart.maxRestarts !== undefined)
      problems.push({
        path: [...at, "restart", "maxRestarts"],
        rule: "is for backend: process (the kubelet restarts with CrashLoopBackOff)",
        at: "key",
      });
    // On a cluster the program is a container image; paths on this machine mean nothing there.
    if (entry.command !== undefined)
      problems.push({ path: [...at, "command"], rule: "is for backend: process; with backend: kubernetes give image", at: "key" });
    if (entry.workingDirectory !== undefined)
      problems.push({ path: [...at, "workingDirectory"], rule: "is for backend: process", at: "key" });
    if (entry.image === undefined) problems.push({ path: [...at, "image"], rule: "is required with backend: kubernetes", at: "key" });
    else spec.image = entry.image;
  } else {
    checkAccounts(entry, at, problems);
    if (entry.image !== undefined)
      problems.push({ path: [...at, "image"], rule: "is for backend: kubernetes; with backend: process give command", at: "key" });
    if (entry.shell !== undefined) {
      spec.command = SHELL;
      spec.shell = entry.shell;
    } else if (entry.command === undefined)
      problems.push({ path: [...at, "command"], rule: "is required (or shell: a command line)", at: "key" });
    else {
      const resolved = resolveCommand(entry.command, ctx.baseDir, ctx.env);
      if ("problem" in resolved) problems.push({ path: [...at, "command"], rule: resolved.problem, at: "value" });
      spec.command = "path" in resolved ? resolved.path : entry.command;
    }
    const workingDirectory = resolve(ctx.baseDir, entry.workingDirectory ?? ".");
    if (entry.workingDirectory !== undefined && !isDirectory(workingDirectory)) {
      problems.push({
        path: [...at, "workingDirectory"],
        rule: `${JSON.stringify(entry.workingDirectory)} is not a directory (${workingDirectory})`,
        at: "value",
      });
    }
    spec.workingDirectory = workingDirectory;
  }
  if (entry.memory !== undefined) spec.memory = String(entry.memory);
  if (entry.cpu !== undefined) spec.cpu = String(entry.cpu);
  if (entry.disk !== undefined && entry.disk !== false) spec.disk = entry.disk === true ? true : String(entry.disk);
  if (readiness) spec.readiness = readiness;
  if (entry.metrics !== undefined) spec.metrics = { ...entry.metrics };
  if (entry.liveness !== undefined) spec.liveness = structuredClone(entry.liveness);
  if (entry.startup !== undefined) spec.startup = structuredClone(entry.startup);
  if (entry.restartBackoff !== undefined) spec.restartBackoff = { ...entry.restartBackoff };
  if (entry.restart !== undefined) {
    const restart = entry.restart;
    if (typeof restart === "object") {
      if (restart.backoff !== undefined && entry.restartBackoff !== undefined)
        problems.push({ path: [...at, "restart", "backoff"], rule: "is also given as restartBackoff: give one of them", at: "key" });
      if (restart.window !== undefined && restart.maxRestarts === undefined)
        problems.push({ path: [...at, "restart", "window"], rule: "is the window of maxRestarts: give maxRestarts too", at: "key" });
    }
    Object.assign(spec, restartFields(restart));
  }
  if (entry.stopSignal !== undefined) spec.stopSignal = normalizeSignal(entry.stopSignal);
  if (entry.stopGracePeriod !== undefined) spec.stopGracePeriodMs = parseDurationMs(entry.stopGracePeriod);
  if (entry.drainMs !== undefined) spec.drainMs = parseDurationMs(entry.drainMs);
  if (entry.balance !== undefined) spec.balance = entry.balance;
  buildLifecycle(entry, at, ctx, spec, problems);
  return spec;
}

/** `shell:` is an alternative to command and args, and its placeholders follow the args' rules. */
function checkShell(
  entry: ServiceEntry,
  shell: string,
  at: FieldPath,
  scope: Parameters<typeof checkArgTemplate>[1],
  backend: "process" | "kubernetes",
  problems: BuildProblem[],
): void {
  for (const other of ["command", "args"] as const) {
    if (entry[other] !== undefined)
      problems.push({ path: [...at, other], rule: `cannot be given with shell: give either shell or command and args`, at: "key" });
  }
  if (backend === "kubernetes") problems.push({ path: [...at, "shell"], rule: "is for backend: process", at: "key" });
  const problem = checkArgTemplate(shell, scope) ?? checkSecretsTemplate(shell, entry.secrets ?? []);
  if (problem !== undefined) problems.push({ path: [...at, "shell"], rule: problem, at: "value" });
}

/** hooks, stop, forking, pidFile and watch: paths resolved against the file's folder; forking servers are the process backend's. */
function buildLifecycle(
  entry: ServiceEntry,
  at: FieldPath,
  ctx: BuildContext & { backend: "process" | "kubernetes" },
  spec: ServiceSpec,
  problems: BuildProblem[],
): void {
  if (entry.hooks !== undefined) spec.hooks = structuredClone(entry.hooks);
  if (entry.stop !== undefined) spec.stop = structuredClone(entry.stop);
  if (ctx.backend === "kubernetes") {
    for (const field of ["forking", "pidFile"] as const)
      if (entry[field] !== undefined) problems.push({ path: [...at, field], rule: "is for backend: process", at: "key" });
  } else {
    if (entry.forking !== undefined) spec.forking = entry.forking;
    if (entry.pidFile !== undefined) {
      if (entry.forking === false)
        problems.push({ path: [...at, "forking"], rule: "must not be false with pidFile (a PID file means forking)", at: "value" });
      spec.pidFile = resolve(ctx.baseDir, entry.pidFile);
    }
  }
  if (entry.watch !== undefined)
    spec.watch = entry.watch.map((w) => ({
      ...structuredClone(w),
      path: resolve(ctx.baseDir, w.path),
      ...(w.target !== undefined ? { target: resolve(ctx.baseDir, w.target) } : {}),
    }));
}

/**
 * A user or group that names nobody on this machine, or that this user may not
 * become (only root may), is said with its line now, not when its process
 * would start: the daemon runs as whoever runs `corral` (its socket is theirs alone).
 */
function checkAccounts(entry: ServiceEntry, at: FieldPath, problems: BuildProblem[]): void {
  try {
    serviceRunAs(entry);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const field = error.field === "group" ? "group" : "user";
    problems.push({ path: [...at, field], rule: error.rule, at: "value" });
  }
}

/** Services that share a volume must run as the same user: the volume belongs to one (a service without user runs as corral's). */
function checkVolumeUsers(parsed: CorralFile, services: Record<string, ServiceSpec>, problems: BuildProblem[]): void {
  const firstUser = new Map<string, { id: string; user: string; uid: number | string }>();
  for (const [id, spec] of Object.entries(services)) {
    const user = spec.user === undefined ? "" : String(spec.user);
    const uid = uidOf(spec.user);
    for (const volume of spec.volumes ?? []) {
      const first = firstUser.get(volume);
      if (!first) {
        firstUser.set(volume, { id, user, uid });
        continue;
      }
      if (first.uid === uid) continue;
      const who = (name: string) => (name === "" ? "corral's own user" : `user ${name}`);
      const entry = parsed.services[id]!;
      problems.push({
        path: entry.user !== undefined ? ["services", id, "user"] : ["services", id],
        rule: `shares volume ${volume} with service ${first.id}, which runs as ${who(first.user)}, not ${who(user)}: services sharing a volume must run as the same user`,
        at: entry.user !== undefined ? "value" : "key",
      });
    }
  }
}

/** The uid a service runs as, where this machine knows it; else the name as written (checkAccounts reported it). */
function uidOf(user: string | number | undefined): number | string {
  if (user === undefined) return process.getuid?.() ?? 0;
  if (typeof user === "number" || /^\d+$/.test(user)) return Number(user);
  try {
    return resolveServiceUser(user).uid;
  } catch {
    // An unknown name: already a problem of its own line, so only its spelling is compared here.
    return user;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function buildReadiness(r: NonNullable<ServiceEntry["readiness"]>): ReadinessProbe {
  const probe: ReadinessProbe = {};
  if (r.socket !== undefined) probe.socket = r.socket;
  if (r.http !== undefined) probe.http = { port: r.http.port, path: r.http.path };
  if (r.exec !== undefined) probe.exec = [...r.exec];
  if (r.logLine !== undefined) probe.logLine = r.logLine;
  if (r.periodMs !== undefined) probe.periodMs = r.periodMs;
  if (r.timeoutMs !== undefined) probe.timeoutMs = r.timeoutMs;
  if (r.failureThreshold !== undefined) probe.failureThreshold = r.failureThreshold;
  return probe;
}

function checkDependencies(entry: ServiceEntry, at: FieldPath, parsed: CorralFile, problems: BuildProblem[]): void {
  const listed = entry.dependsOn;
  if (listed === undefined) return;
  const names = Array.isArray(listed) ? listed : Object.keys(listed);
  for (const [i, name] of names.entries()) {
    if (Object.hasOwn(parsed.services, name)) continue;
    const path: FieldPath = Array.isArray(listed) ? [...at, "dependsOn", i] : [...at, "dependsOn", name];
    problems.push({
      path,
      rule: `names no service in this file (services: ${Object.keys(parsed.services).join(", ")})`,
      at: Array.isArray(listed) ? "value" : "key",
    });
  }
}

function dependencyMap(listed: ServiceEntry["dependsOn"]): Record<string, DependencyCondition> {
  if (listed === undefined) return {};
  if (Array.isArray(listed)) return Object.fromEntries(listed.map((name) => [name, "ready" as const]));
  return { ...listed };
}

/** `env` as written: plain values (as strings), and variables whose value comes from a secret (name → secret id). */
function splitEnv(env: ServiceEntry["env"]): { plain: Record<string, string>; fromSecrets: Record<string, string> } {
  const plain: Record<string, string> = {};
  const fromSecrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(env ?? {})) {
    if (typeof value === "object") fromSecrets[name] = value.secret;
    else plain[name] = String(value);
  }
  return { plain, fromSecrets };
}

function stringMap(map: Record<string, string | number | boolean> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(map ?? {}).map(([k, v]) => [k, String(v)]));
}

function readEnvFiles(
  envFile: ServiceEntry["envFile"],
  at: FieldPath,
  ctx: BuildContext,
  problems: BuildProblem[],
): Record<string, string> {
  if (envFile === undefined) return {};
  const files = Array.isArray(envFile) ? envFile : [envFile];
  const env: Record<string, string> = {};
  for (const [i, name] of files.entries()) {
    const path: FieldPath = Array.isArray(envFile) ? [...at, "envFile", i] : [...at, "envFile"];
    const absolute = resolve(ctx.baseDir, name);
    let text: string;
    try {
      text = readFileSync(absolute, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === "ENOENT"
          ? "does not exist"
          : code === "EISDIR"
            ? "is a directory"
            : code === "EACCES"
              ? "is not readable"
              : `cannot be read (${code ?? String(error)})`;
      problems.push({ path, rule: `${JSON.stringify(name)} ${why}${absolute === name ? "" : ` (${absolute})`}`, at: "value" });
      continue;
    }
    const parsed = parseEnvFile(text);
    if ("problem" in parsed) {
      const shown = isAbsolute(name) ? name : join(dirname(ctx.file), name);
      const { line, column, rule } = parsed.problem;
      problems.push({ path, rule, at: "value", elsewhere: { file: shown, position: { line, column } } });
      continue;
    }
    Object.assign(env, parsed.env);
  }
  return env;
}

/** The file's name for a contract field ("memoryLimit" → "memory", "labels.a/b" → labels, "a/b"). */
function fileFieldOf(contractField: string): FieldPath {
  const names: Record<string, string> = {
    image: "command",
    memoryLimit: "memory",
    cpuLimit: "cpu",
    diskLimit: "disk",
    restartPolicy: "restart",
    terminationGracePeriodMs: "stopGracePeriod",
    secretEnv: "env",
  };
  const dot = contractField.indexOf(".");
  const bracket = contractField.indexOf("[");
  const end = [dot, bracket].filter((i) => i !== -1).reduce((a, b) => Math.min(a, b), contractField.length);
  const head = contractField.slice(0, end);
  const rest = contractField.slice(end);
  const first = names[head] ?? head;
  // Label keys and env names may themselves hold dots: everything after the map's name is one key.
  if ((first === "labels" || first === "env") && rest.startsWith(".")) return [first, rest.slice(1)];
  const path: (string | number)[] = [first];
  for (const [, key, index] of rest.matchAll(/\.([^.[]+)|\[(\d+)\]/g)) path.push(index !== undefined ? Number(index) : key!);
  return path;
}
