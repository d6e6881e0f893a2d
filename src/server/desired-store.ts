import { readFile } from "node:fs/promises";
import type { DesiredState } from "../config/types.js";
import { writeFileAtomic } from "../util/atomic-write.js";

/** The desired state on disk: what a restarted daemon re-applies. Written atomically, so it is the old or the new, never half. */
export class DesiredStateStore {
  constructor(private readonly path: string) {}

  async load(): Promise<DesiredState | null> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    return JSON.parse(text) as DesiredState;
  }

  async save(state: DesiredState): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  }
}
