import { readFile } from "node:fs/promises";
import { ValidationError } from "../contract/errors.js";
import { parseDesiredState } from "../config/desired-state.js";
import type { DesiredState } from "../config/types.js";
import { writeFileAtomic } from "../util/atomic-write.js";

/** The desired state on disk: what a restarted daemon re-applies. Written atomically, so it is the old or the new, never half. */
export class DesiredStateStore {
  constructor(private readonly path: string) {}

  /** The stored state, checked with the same schema as a request (a file edited by hand is no exception); null when there is none. */
  async load(): Promise<DesiredState | null> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if (error instanceof Error && "code" in error && error.code === "ENOENT") return null;
      throw error;
    }
    try {
      return parseDesiredState(JSON.parse(text));
    } catch (error) {
      if (error instanceof ValidationError) throw new ValidationError(`${this.path}: ${error.field}`, error.rule);
      throw new ValidationError(this.path, `must be JSON (${error instanceof Error ? error.message : String(error)})`);
    }
  }

  async save(state: DesiredState): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  }
}
