/** A path into the parsed file, as zod and the yaml package spell it. */
export type FieldPath = readonly (string | number)[];

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * `services.web.args[2]`; keys that would read ambiguously (label keys with
 * dots or slashes, env names with odd characters) are quoted:
 * `services.web.labels["app.kubernetes.io/name"]`.
 */
export function formatFieldPath(path: FieldPath): string {
  if (path.length === 0) return "(root)";
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}
