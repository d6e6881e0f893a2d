import type { z } from "zod";
import type { FieldPath } from "./field-path.js";
import { suggestField } from "./suggest.js";

/** One problem in the file, before it is given a line and column. */
export interface Problem {
  path: FieldPath;
  rule: string;
  /** Point at the key (unknown field, bad map key) rather than at the value. */
  at: "key" | "value";
}

type Issue = z.core.$ZodIssue;

/** Turns zod's issues into problems that read as rules about the user's file. */
export function problemsFromIssues(issues: readonly Issue[], input: unknown, knownKeys?: (path: FieldPath) => string[]): Problem[] {
  const problems = issues.flatMap((issue) => fromIssue(issue, [], input, knownKeys));
  // A misspelt key and the "is required" it causes point at the same place: the misspelling is the news.
  return [...problems.filter((p) => p.rule.startsWith("unknown field")), ...problems.filter((p) => !p.rule.startsWith("unknown field"))];
}

function fromIssue(issue: Issue, prefix: FieldPath, input: unknown, knownKeys?: (path: FieldPath) => string[]): Problem[] {
  const path = [...prefix, ...(issue.path as (string | number)[])];
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => {
        const known = knownKeys?.(path) ?? [];
        const meant = suggestField(key, known);
        const rule =
          meant !== undefined
            ? `unknown field (did you mean ${meant}?)`
            : known.length > 0 && known.length <= 8
              ? `unknown field (known: ${known.join(", ")})`
              : "unknown field";
        return { path: [...path, key], rule, at: "key" as const };
      });
    case "invalid_key": {
      // zod puts the key itself last in the path; the nested issue holds the rule it broke.
      const inner = issue.issues[0];
      return [{ path, rule: inner ? ruleOf(inner) : issue.message, at: "key" }];
    }
    case "invalid_union": {
      // Report the branch the value was evidently meant for ({ name: sql, portHint: "x" }
      // is a bad port object, not "not a string"), else the union's own rule.
      const matching = issue.errors.filter((branch) => !branch.some((i) => i.path.length === 0 && otherType(i, valueAt(input, path))));
      if (matching.length === 1) return matching[0]!.flatMap((inner) => fromIssue(inner, path, input, knownKeys));
      return [{ path, rule: issue.message, at: "value" }];
    }
    default:
      if (issue.code === "invalid_type" && valueAt(input, path) === undefined) return [{ path, rule: "is required", at: "key" }];
      return [{ path, rule: ruleOf(issue), at: "value" }];
  }
}

/** A branch's issue that says the value is of another type than the branch takes (an enum of strings given a mapping, too). */
function otherType(issue: Issue, value: unknown): boolean {
  if (issue.code === "invalid_type") return true;
  return issue.code === "invalid_value" && !issue.values.some((allowed) => typeof allowed === typeof value);
}

function ruleOf(issue: Issue): string {
  // Schema rules are written as "must ..."; zod's stock wording only shows up for corners we did not phrase.
  if (issue.code === "invalid_type" && issue.message.startsWith("Invalid input"))
    return `must be ${issue.expected === "object" ? "a mapping" : `a ${issue.expected}`}`;
  return issue.message;
}

function valueAt(root: unknown, path: FieldPath): unknown {
  let node = root;
  for (const segment of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}
