import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ValidationError } from "../contract/errors.js";
import { validateId } from "../contract/validation.js";
import { syncDirectory, writeFileAtomic } from "../util/atomic-write.js";
import { unlinkIfPresent } from "../util/unlink.js";

/** One process's TCP proxy address for one of its ports. */
export interface ServiceDiscoveryTarget {
  serviceId: string;
  processIndex: number;
  /** The port's name. */
  port: string;
  /** "host:port" of the TCP proxy in front of the process's Unix socket. */
  address: string;
  /** The service's labels, as given in its config. */
  labels: Record<string, string>;
  /** Where Prometheus finds the metrics on this port: rendered as `__metrics_path__`. */
  metricsPath?: string;
}

/** One entry of a Prometheus file_sd file (https://prometheus.io/docs/guides/file-sd/). */
export interface StaticConfig {
  targets: string[];
  labels: Record<string, string>;
}

export interface WriteServiceDiscoveryOptions {
  /**
   * With no targets, remove `<namespace>.json` instead of writing `[]` (default true),
   * so a namespace that is gone leaves no file behind. Prometheus treats a removed
   * file as one with no targets.
   */
  removeWhenEmpty?: boolean;
  /** fsync the file and the directory. Default true. */
  durable?: boolean;
}

/** The labels the seed writes; kept so existing Prometheus configs keep working. */
export const LABEL_PREFIX = "mz_orchestrator_";

/** A service label key as a Prometheus label name: every character outside [a-zA-Z0-9_] becomes "_". */
export function prometheusLabelName(key: string): string {
  // The prefix supplies a valid first character, so a key starting with a digit is fine.
  return LABEL_PREFIX + key.replace(/[^a-zA-Z0-9_]/gu, "_");
}

export function serviceDiscoveryPath(dir: string, namespace: string): string {
  return join(dir, `${validateId("namespace", namespace)}.json`);
}

/**
 * The file_sd entries of a namespace: one per process and port, sorted by service,
 * process index and port, each with its labels sorted by name, so the same targets
 * always give the same bytes. The built-in labels win over a service label that
 * sanitizes to the same name (e.g. a service label "port"); between two service
 * labels that sanitize alike ("a.b" and "a-b") the one whose key sorts first wins.
 */
export function renderServiceDiscovery(namespace: string, targets: readonly ServiceDiscoveryTarget[]): StaticConfig[] {
  validateId("namespace", namespace);
  for (const [i, target] of targets.entries()) validateTarget(target, i);
  const sorted = [...targets].sort(
    (a, b) =>
      compare(a.serviceId, b.serviceId) || a.processIndex - b.processIndex || compare(a.port, b.port) || compare(a.address, b.address),
  );
  return sorted.map((target) => {
    const labels = new Map<string, string>([
      [`${LABEL_PREFIX}namespace`, namespace],
      [`${LABEL_PREFIX}service_id`, target.serviceId],
      [`${LABEL_PREFIX}port`, target.port],
      [`${LABEL_PREFIX}ordinal`, String(target.processIndex)],
    ]);
    if (target.metricsPath !== undefined) labels.set("__metrics_path__", target.metricsPath);
    for (const key of Object.keys(target.labels).sort(compare)) {
      const name = prometheusLabelName(key);
      if (!labels.has(name)) labels.set(name, target.labels[key] ?? "");
    }
    const sortedLabels: Record<string, string> = {};
    for (const name of [...labels.keys()].sort(compare)) sortedLabels[name] = labels.get(name) ?? "";
    return { targets: [target.address], labels: sortedLabels };
  });
}

export function serializeServiceDiscovery(configs: readonly StaticConfig[]): string {
  return `${JSON.stringify(configs, null, 2)}\n`;
}

/**
 * Writes `<dir>/<namespace>.json` atomically (temp file, fsync, rename, fsync the
 * directory), so Prometheus never reads half a file. Calls for the same file are
 * applied in call order, so the file always ends up with the targets of the last call.
 * With no targets the file is removed (see `removeWhenEmpty`).
 */
export function writeServiceDiscoveryFile(
  dir: string,
  namespace: string,
  targets: readonly ServiceDiscoveryTarget[],
  options: WriteServiceDiscoveryOptions = {},
): Promise<void> {
  const { removeWhenEmpty = true, durable = true } = options;
  let path: string;
  let contents: string | undefined;
  try {
    path = serviceDiscoveryPath(dir, namespace);
    // Rendered now, so bad input is rejected before anything is queued or written.
    if (targets.length > 0 || !removeWhenEmpty) contents = serializeServiceDiscovery(renderServiceDiscovery(namespace, targets));
  } catch (error) {
    return Promise.reject(error);
  }
  return inOrder(path, async () => {
    if (contents === undefined) return removeFile(path, dir, durable);
    await mkdir(dir, { recursive: true });
    // 0644: Prometheus usually runs as another user.
    await writeFileAtomic(path, contents, { mode: 0o644, durable });
  });
}

/** Removes `<dir>/<namespace>.json` if it exists; queued behind pending writes of the same file. */
export function removeServiceDiscoveryFile(dir: string, namespace: string, options: { durable?: boolean } = {}): Promise<void> {
  let path: string;
  try {
    path = serviceDiscoveryPath(dir, namespace);
  } catch (error) {
    return Promise.reject(error);
  }
  return inOrder(path, () => removeFile(path, dir, options.durable ?? true));
}

async function removeFile(path: string, dir: string, durable: boolean): Promise<void> {
  if ((await unlinkIfPresent(path)) && durable) await syncDirectory(dir);
}

const queues = new Map<string, Promise<void>>();

/** Runs `task` after every earlier task for the same path has settled. */
function inOrder(path: string, task: () => Promise<void>): Promise<void> {
  const key = resolve(path);
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.then(task, task);
  const tail = next.then(
    () => {},
    () => {},
  );
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return next;
}

function validateTarget(target: ServiceDiscoveryTarget, index: number): void {
  const field = `targets[${index}]`;
  validateId(`${field}.serviceId`, target.serviceId);
  validateId(`${field}.port`, target.port);
  if (!Number.isInteger(target.processIndex) || target.processIndex < 0) {
    throw new ValidationError(`${field}.processIndex`, "must be an integer >= 0", target.processIndex);
  }
  if (typeof target.address !== "string" || target.address === "") {
    throw new ValidationError(`${field}.address`, 'must be a non-empty "host:port"', target.address);
  }
  if (typeof target.labels !== "object" || target.labels === null) {
    throw new ValidationError(`${field}.labels`, "must be an object of strings", target.labels);
  }
  for (const [key, value] of Object.entries(target.labels)) {
    if (typeof value !== "string") throw new ValidationError(`${field}.labels.${key}`, "must be a string", value);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
