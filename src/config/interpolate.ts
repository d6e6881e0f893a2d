// Compose's variable interpolation in string values: `$VAR`, `${VAR}`,
// `${VAR:-default}` / `${VAR-default}` (when unset or empty / unset),
// `${VAR:+alt}` / `${VAR+alt}`, `${VAR:?message}` / `${VAR?message}` (an error
// when unset or empty / unset), and `$$` for a literal `$`. Defaults may nest
// (`${A:-${B}}`). Unlike compose, a variable that is not set and has no default
// is an error, not an empty string: a file shared by a team should say what
// is missing rather than start a service with half its settings.

/** Where a variable's value came from, for `corral config --why`. */
export interface VariableSource {
  value: string;
  from: string;
}

export type Lookup = (name: string) => VariableSource | undefined;

export interface InterpolationProblem {
  /** The expression as written, e.g. `${DB_HOST:?set DB_HOST}`, so its column can be found in the source. */
  expression: string;
  rule: string;
}

export type InterpolationResult = { value: string; used: { name: string; from: string | undefined }[] } | { problem: InterpolationProblem };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export function interpolate(text: string, lookup: Lookup): InterpolationResult {
  const used: { name: string; from: string | undefined }[] = [];
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== "$") {
      out += c;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      out += "$";
      i++;
      continue;
    }
    if (next === "{") {
      const end = closingBrace(text, i + 2);
      const expression = text.slice(i, end === -1 ? text.length : end + 1);
      if (end === -1) return { problem: { expression, rule: `unterminated ${expression}: a } is missing (write $$ for a literal $)` } };
      const result = substitute(text.slice(i + 2, end), expression, lookup, used);
      if ("problem" in result) return result;
      out += result.value;
      i = end;
      continue;
    }
    const name = NAME.exec(text.slice(i + 1))?.[0];
    if (name === undefined) {
      return {
        problem: { expression: text.slice(i, i + 2), rule: `"${text.slice(i, i + 2)}" is not a variable: write $$ for a literal $` },
      };
    }
    const found = lookup(name);
    if (found === undefined) return { problem: { expression: `$${name}`, rule: unsetRule(name) } };
    used.push({ name, from: found.from });
    out += found.value;
    i += name.length;
  }
  return { value: out, used };
}

/** Escapes a resolved value so that interpolating it again gives it back (`corral config` output). */
export function escapeInterpolation(text: string): string {
  return text.replace(/\$/g, "$$$$");
}

function substitute(
  body: string,
  expression: string,
  lookup: Lookup,
  used: { name: string; from: string | undefined }[],
): { value: string } | { problem: InterpolationProblem } {
  const name = NAME.exec(body)?.[0];
  if (name === undefined) return { problem: { expression, rule: `${expression} must start with a variable name` } };
  const rest = body.slice(name.length);
  const found = lookup(name);
  const operator = /^(:?[-+?])/.exec(rest)?.[1];
  if (operator === undefined) {
    if (rest !== "") return { problem: { expression, rule: `${expression}: unknown operator (use :-, -, :+, +, :? or ?)` } };
    if (found === undefined) return { problem: { expression, rule: unsetRule(name) } };
    used.push({ name, from: found.from });
    return { value: found.value };
  }
  const word = rest.slice(operator.length);
  const missing = operator.startsWith(":") ? found === undefined || found.value === "" : found === undefined;
  if (found !== undefined) used.push({ name, from: found.from });
  const nested = () => {
    const inner = interpolate(word, lookup);
    if ("problem" in inner) return inner;
    used.push(...inner.used);
    return { value: inner.value };
  };
  switch (operator.replace(":", "")) {
    case "-":
      return missing ? nested() : { value: found!.value };
    case "+":
      return missing ? { value: "" } : nested();
    default: {
      if (!missing) return { value: found!.value };
      const message = nested();
      const why = "problem" in message || message.value === "" ? "is required" : message.value;
      return { problem: { expression, rule: `variable ${name} ${found === undefined ? "is not set" : "is empty"}: ${why}` } };
    }
  }
}

function unsetRule(name: string): string {
  return `variable ${name} is not set (set it in the environment or .env, or give a default: \${${name}:-value})`;
}

/** The index of the `}` closing a `${` whose body starts at `from`, counting nested `${...}`; -1 when there is none. */
function closingBrace(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "$") i++;
    else if (text[i] === "$" && text[i + 1] === "{") {
      depth++;
      i++;
    } else if (text[i] === "}") {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}
