// Terminal output: tables, colours (only on a TTY, and never with NO_COLOR), sizes and durations.
const useColour = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;

const codes = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, grey: 90, bold: 1 } as const;
export type Colour = keyof typeof codes;

export function paint(colour: Colour, text: string): string {
  return useColour ? `\x1b[${codes[colour]}m${text}\x1b[0m` : text;
}

const PREFIX_COLOURS: Colour[] = ["cyan", "magenta", "blue", "yellow", "green"];
/** A stable colour per name, as compose gives each service one. */
export function colourFor(name: string): Colour {
  let hash = 0;
  for (const c of name) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return PREFIX_COLOURS[hash % PREFIX_COLOURS.length]!;
}

export function table(headers: string[], rows: string[][]): string {
  // eslint-disable-next-line no-control-regex -- ANSI colour sequences start with ESC
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "").length;
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c + " ".repeat(widths[i]! - visible(c)))
      .join("  ")
      .trimEnd();
  return [line(headers.map((h) => paint("bold", h))), ...rows.map(line)].join("\n");
}

export function bytes(n: number | null): string {
  if (n === null) return "-";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)}${units[unit]}`;
}

export function cores(nanoCores: number | null): string {
  return nanoCores === null ? "-" : `${(nanoCores / 1e7).toFixed(1)}%`;
}

export function duration(seconds: number | null): string {
  if (seconds === null) return "-";
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${Math.floor(seconds % 60)}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d${Math.floor((seconds % 86400) / 3600)}h`;
}

export function status(text: string, reason: string | null, crashLooping = false, lastExit?: string | null): string {
  // Colour plus words: readable without colour, and by colour-blind users.
  const after = lastExit ? `, after ${lastExit}` : "";
  if (text === "online") return paint("green", "online") + after;
  // Still running, in its stop grace period.
  if (reason === "stopping") return paint("yellow", "stopping") + after;
  // A crash loop is red even between its restarts: waiting is not what it does.
  if (crashLooping && reason === "backoff") return paint("red", "offline (backoff, crash-looping)") + after;
  const colour = reason === "starting" || reason === "backoff" ? "yellow" : "red";
  return paint(colour, reason ? `offline (${reason})` : "offline") + after;
}
