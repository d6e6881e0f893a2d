// The env-file format compose and systemd users already have: KEY=VALUE lines,
// `#` comments, optional `export `, values optionally quoted.

export interface EnvFileProblem {
  line: number;
  column: number;
  rule: string;
}

export type EnvFileResult = { env: Record<string, string> } | { problem: EnvFileProblem };

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\", $: "$" };

export function parseEnvFile(text: string): EnvFileResult {
  const env: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const indent = raw.length - raw.trimStart().length;
    const body = trimmed.startsWith("export ") ? trimmed.slice("export ".length).trimStart() : trimmed;
    const offset = indent + (trimmed.length - body.length);
    const eq = body.indexOf("=");
    if (eq === -1) return { problem: { line, column: offset + 1, rule: "must be KEY=VALUE" } };
    const key = body.slice(0, eq).trim();
    if (!KEY.test(key)) return { problem: { line, column: offset + 1, rule: `${JSON.stringify(key)} is not a valid variable name` } };
    const value = parseValue(body.slice(eq + 1).trim());
    if (value === undefined) return { problem: { line, column: offset + eq + 2, rule: "unterminated quoted value" } };
    env[key] = value;
  }
  return { env };
}

function parseValue(text: string): string | undefined {
  const quote = text[0];
  if (quote === "'" || quote === '"') {
    const end = closingQuote(text, quote);
    if (end === -1) return undefined;
    const rest = text.slice(end + 1).trim();
    if (rest !== "" && !rest.startsWith("#")) return undefined;
    const inner = text.slice(1, end);
    return quote === "'" ? inner : inner.replace(/\\(.)/g, (whole, c: string) => ESCAPES[c] ?? whole);
  }
  // Unquoted: a `#` after whitespace starts a comment, so `A=b # note` is "b".
  const comment = text.search(/\s#/);
  return (comment === -1 ? text : text.slice(0, comment)).trim();
}

function closingQuote(text: string, quote: string): number {
  for (let i = 1; i < text.length; i++) {
    if (quote === '"' && text[i] === "\\") i++;
    else if (text[i] === quote) return i;
  }
  return -1;
}
