import { ValidationError } from "../contract/errors.js";
import type { ServiceAssignments } from "../contract/types.js";
import { evaluateArgs, type NormalizedServiceConfig } from "../contract/validation.js";

/** The env var carrying a pod's index; args refer to it as $(CORRAL_PROCESS_INDEX). */
export const PROCESS_INDEX_ENV = "CORRAL_PROCESS_INDEX";
const PLACEHOLDER = `$(${PROCESS_INDEX_ENV})`;
// A StatefulSet has one pod template for all its pods, so args are evaluated once
// with this stand-in index; where it shows up, Kubernetes substitutes the real one.
const SENTINEL_INDEX = 1_987_654_321;

/** Kubernetes expands $(VAR) in args and env values; "$$" is its escape for "$". */
export function escapeExpansion(value: string): string {
  // A function, not "$$": in a replacement string "$$" itself means "$".
  return value.replaceAll("$", () => "$$");
}

export interface RenderedArgs {
  args: string[];
  /** Whether the args refer to the pod's index (so the pod needs the env var). */
  usesIndex: boolean;
}

/**
 * Turns the per-process args function into one argument list for the pod template.
 * Checked against every real index: an args function that uses processIndex other
 * than by printing it cannot be expressed in a shared template and is refused.
 */
export function renderArgs(
  config: NormalizedServiceConfig,
  assignmentsFor: (index: number) => ServiceAssignments,
  scale: number,
): RenderedArgs {
  // At scale 0 (a stopped service) the template still carries the args process 0 would run.
  const perIndex = Array.from({ length: Math.max(scale, 1) }, (_, i) => evaluateArgs(config, assignmentsFor(i)).map(escapeExpansion));
  const first = perIndex[0] ?? [];
  if (perIndex.every((args) => sameArgs(args, first))) return { args: first, usesIndex: false };

  const refuse = () =>
    new ValidationError(
      "args",
      "may use processIndex only by printing it (e.g. `--index=${a.processIndex}`): on Kubernetes all processes share one pod template, and the index is filled in by the pod",
    );
  let templated: string[];
  try {
    templated = evaluateArgs(config, { ...assignmentsFor(0), processIndex: SENTINEL_INDEX }).map((a) =>
      escapeExpansion(a).replaceAll(String(SENTINEL_INDEX), () => PLACEHOLDER),
    );
  } catch {
    throw refuse();
  }
  for (const [i, args] of perIndex.entries()) {
    if (
      !sameArgs(
        templated.map((a) => a.replaceAll(PLACEHOLDER, () => String(i))),
        args,
      )
    )
      throw refuse();
  }
  return { args: templated, usesIndex: true };
}

function sameArgs(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
