// Option values checked where commander parses them: a bad one is a usage
// error (exit 2) naming the option, before anything talks to the daemon.
// Kept free of heavy imports: main.ts loads it for every command.
import { InvalidArgumentError, Option } from "commander";
import { DURATION_RULE, parseDurationMs } from "../config/durations.js";

/** A whole number ≥ `min`; returned as given (the commands read the text). */
export function integerAtLeast(min: number, what: string): (value: string) => string {
  return (value) => {
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value)) || Number(value) < min)
      throw new InvalidArgumentError(`must be ${what}.`);
    return value.trim();
  };
}

/** A number of seconds > 0 (fractions allowed, as compose's --timeout is whole seconds but scripts pass 0.5). */
export function positiveSeconds(value: string): string {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number of seconds.");
  return value.trim();
}

/** A duration ("2s", "500ms") or whole milliseconds. */
export function duration(value: string): string {
  if (parseDurationMs(/^\d+$/.test(value.trim()) ? Number(value) : value) === undefined)
    throw new InvalidArgumentError(`${DURATION_RULE}.`);
  return value.trim();
}

/** A TCP port, 0 (any free one) to 65535. */
export const port = integerAtLeast(0, "a port number between 0 and 65535");
export function tcpPort(value: string): string {
  const checked = port(value);
  if (Number(checked) > 65535) throw new InvalidArgumentError("must be a port number between 0 and 65535.");
  return checked;
}

/** `<host>:<port>`, e.g. 127.0.0.1:7700 or [::1]:7700. */
export function hostPort(value: string): string {
  const match = /^(.+):(\d+)$/.exec(value);
  if (!match || Number(match[2]) > 65535) throw new InvalidArgumentError("must be <host>:<port>, e.g. 127.0.0.1:7700.");
  return value;
}

/** An http:// URL of a daemon's TCP listener (`corral daemon --tcp`, `corral up --tcp`). */
export function daemonUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw new InvalidArgumentError("must be a URL such as http://127.0.0.1:7700.");
  }
  if (url.protocol !== "http:") throw new InvalidArgumentError(`must be an http:// URL (${url.protocol} is not supported).`);
  return url.origin;
}

const RELATIVE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time as `docker compose logs --since/--until` takes it: an
 * RFC 3339 timestamp (2026-12-02T05:00:00Z, or a date), a Unix timestamp in
 * seconds, or a duration before now (10m, 1h30m, 2d).
 */
export function pointInTime(value: string, now: number = Date.now()): Date {
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return new Date(Number(text) * 1000);
  let total = 0;
  let rest = text;
  // 1h30m: one amount and unit at a time.
  while (rest) {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/.exec(rest);
    if (!match) break;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    rest = rest.slice(match[0].length);
  }
  if (!rest && text && (RELATIVE.test(text) || total > 0 || /^0/.test(text))) return new Date(now - total);
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const time = new Date(text);
    if (!Number.isNaN(time.getTime())) return time;
  }
  throw new InvalidArgumentError('must be a timestamp (2026-12-02T05:00:00Z), Unix seconds, or a duration before now ("10m", "1h30m").');
}

/** `--since`/`--until` as commander gets them: checked now, the ISO text passed on. */
export function timeOption(value: string): string {
  return pointInTime(value).toISOString();
}

/** Repeatable options (`-f a.yaml -f b.yaml`) collect into an array, in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

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

/** A command's own options without -f: that is the global option's, merged from before and after the command. */
export function ownOptions<T extends object>(o: T & { file?: unknown }): Omit<T, "file"> {
  const { file: _file, ...rest } = o;
  return rest;
}
