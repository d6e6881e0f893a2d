// One process's cgroup, present in every hierarchy of the layout under the same
// relative name. Reads pick the hierarchy that owns the file (memory, cpuacct,
// unified); kill and remove act on all of them.
import { accessSync } from "node:fs";
import { join } from "node:path";
import type { CgroupLayout } from "./cgroup-layout.js";
import { hierarchiesOf } from "./cgroup-layout.js";
import {
  delay,
  parseKey,
  parseNumber,
  pidsIn,
  readKey,
  readText,
  readTextNow,
  rmdirGroup,
  subtreeDeepestFirst,
  tryWriteValue,
} from "./cgroup-fs.js";
import type { ProcessCgroup } from "./types.js";
import { reportSurvivable } from "../../util/diagnostics.js";
import { coalesced } from "../../util/coalesce.js";
import { isErrno } from "../../util/errno.js";

const POLL_MS = 10;

export class CgroupGroup implements ProcessCgroup {
  readonly version: "v1" | "v2";
  private readonly mounts: string[];

  /**
   * @param name path below each mount, e.g. `corral/env/ns-svc-0`
   * @param removed called once the group is gone: forgets it and removes the ancestors corral owns
   *   where they became empty (one sweep shared by the environment's groups, see parentSweep)
   */
  constructor(
    private readonly layout: CgroupLayout,
    readonly name: string,
    private readonly removed: () => Promise<void>,
  ) {
    this.version = layout.version;
    this.mounts = hierarchiesOf(layout);
  }

  /** The group's directory in each hierarchy it lives in. */
  directories(): string[] {
    return this.mounts.map((m) => join(m, this.name));
  }

  procsFiles(): string[] {
    return this.directories().map((d) => join(d, "cgroup.procs"));
  }

  private dir(mountPoint: string): string {
    return join(mountPoint, this.name);
  }

  /** The v2 directory: the whole group in v2 mode, the controller-less companion on hybrid hosts. */
  private unifiedDir(): string | undefined {
    const u = this.layout.unified;
    return u ? this.dir(u.mountPoint) : undefined;
  }

  async oomKillCount(): Promise<number> {
    const l = this.layout;
    const n =
      l.version === "v2"
        ? await readKey(join(this.dir(l.unified.mountPoint), "memory.events"), "oom_kill")
        : await readKey(join(this.dir(l.memory.mountPoint), "memory.oom_control"), "oom_kill");
    return n ?? 0;
  }

  // Metrics read synchronously (readTextNow): cgroupfs lives in kernel memory, and
  // a thread-pool round trip per file made a 500-process metrics call ~140 ms.
  async memoryBytes(): Promise<number | null> {
    // Working set, as the kubelet reports it: page cache the kernel can drop on
    // demand is not memory the process holds.
    const l = this.layout;
    const dir = this.dir(l.version === "v2" ? l.unified.mountPoint : l.memory.mountPoint);
    const usage = parseNumber(readTextNow(join(dir, l.version === "v2" ? "memory.current" : "memory.usage_in_bytes")));
    if (usage === null) return null;
    const inactive = parseKey(readTextNow(join(dir, "memory.stat")), l.version === "v2" ? "inactive_file" : "total_inactive_file");
    return Math.max(0, usage - (inactive ?? 0));
  }

  async cpuUsageNanos(): Promise<number | null> {
    const l = this.layout;
    if (l.version === "v1") {
      const acct = l.cpuacct ?? (l.cpu.controllers.includes("cpuacct") ? l.cpu : undefined);
      if (acct) {
        const n = parseNumber(readTextNow(join(this.dir(acct.mountPoint), "cpuacct.usage")));
        if (n !== null) return n;
      }
    }
    // v2 keeps usage_usec in cpu.stat even without the cpu controller.
    const u = this.unifiedDir();
    if (!u) return null;
    const usec = parseKey(readTextNow(join(u, "cpu.stat")), "usage_usec");
    return usec === null ? null : usec * 1000;
  }

  async pids(): Promise<number[]> {
    const all = new Set<number>();
    for (const d of this.directories()) for (const pid of await pidsIn(d)) all.add(pid);
    return [...all];
  }

  async isPopulated(): Promise<boolean> {
    const u = this.unifiedDir();
    if (u) {
      // cgroup.events counts the group and its descendants; every process corral
      // starts joins the unified group too, so its answer stands for all hierarchies.
      const populated = await readKey(join(u, "cgroup.events"), "populated");
      if (populated !== null) return populated === 1;
    }
    return (await this.pids()).length > 0;
  }

  /** Poll until the group is empty; cgroupfs gives no portable event for it on v1. */
  private async waitEmpty(deadline: number): Promise<boolean> {
    for (;;) {
      if (!(await this.isPopulated())) return true;
      if (Date.now() >= deadline) return false;
      await delay(POLL_MS);
    }
  }

  async kill(opts: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    // After a plain exit (the common case: the supervisor kills the group of a process that just ended) there is nothing to kill.
    if (!(await this.isPopulated())) return;
    const u = this.unifiedDir();
    let round = 0;
    for (;;) {
      // cgroup.kill takes the whole tree at once, forks in flight included.
      const killedByKernel = u !== undefined && (await tryWriteValue(join(u, "cgroup.kill"), "1"));
      if (!killedByKernel || round > 0) await this.killEachFrozen();
      round++;
      if (await this.waitEmpty(Math.min(deadline, Date.now() + 500))) return;
      if (Date.now() >= deadline) {
        throw new Error(
          `cgroup ${this.name}: still populated ${opts.timeoutMs ?? 10_000} ms after SIGKILL (pids ${(await this.pids()).join(",")})`,
        );
      }
    }
  }

  /**
   * Fallback where cgroup.kill is missing (v1, kernels before 5.14): freeze the
   * group so nothing forks or exits (and no PID is reused) between listing and
   * signalling, SIGKILL each PID, then thaw so the kills are delivered.
   */
  private async killEachFrozen(): Promise<void> {
    const thaw = await this.freeze();
    try {
      for (const pid of await this.pids()) {
        try {
          process.kill(pid, "SIGKILL");
        } catch (error) {
          // ESRCH: already gone. Anything else (EPERM) leaves the task in the group, which kill() then reports.
          if (!isErrno(error, "ESRCH")) reportSurvivable("process.cgroup", "kill task", error, { cgroup: this.name, pid });
        }
      }
    } finally {
      await thaw();
    }
  }

  /** Freezes with the v1 freezer, else v2 cgroup.freeze; returns the thaw. Best effort: a task that never freezes (D state) is signalled anyway. */
  private async freeze(): Promise<() => Promise<void>> {
    const freezer = this.layout.version === "v1" ? this.layout.freezer : undefined;
    const until = Date.now() + 1000;
    if (freezer) {
      const state = join(this.dir(freezer.mountPoint), "freezer.state");
      if (await tryWriteValue(state, "FROZEN")) {
        while (Date.now() < until && (await readText(state))?.trim() !== "FROZEN") await delay(2);
      }
      return async () => void (await tryWriteValue(state, "THAWED"));
    }
    const u = this.unifiedDir();
    if (u) {
      const file = join(u, "cgroup.freeze");
      if (await tryWriteValue(file, "1")) {
        while (Date.now() < until && (await readKey(join(u, "cgroup.events"), "frozen")) !== 1) await delay(2);
      }
      return async () => void (await tryWriteValue(file, "0"));
    }
    return async () => {};
  }

  async remove(opts: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    // The usual group is empty already: its first hierarchy's rmdir says so (the
    // kernel refuses a populated group), without reading cgroup.events first.
    // That hierarchy is the one a process joins first, so once it is gone no
    // process can be in, or still be joining, the others.
    const [first, ...rest] = this.mounts;
    if (first !== undefined && !(await rmdirGroup(this.dir(first)))) {
      if (!(await this.waitEmpty(deadline))) {
        throw new Error(`cgroup ${this.name}: cannot remove, still populated (pids ${(await this.pids()).join(",")})`);
      }
      await this.removeIn(first, deadline);
    }
    await Promise.all(rest.map((mount) => this.removeIn(mount, deadline)));
    await this.removed();
  }

  private async removeIn(mount: string, deadline: number): Promise<void> {
    // One rmdir in the common case; the walk only when processes made sub-groups (they go first).
    if (await rmdirGroup(this.dir(mount))) return;
    for (const d of await subtreeDeepestFirst(this.dir(mount))) {
      for (;;) {
        // EBUSY right after the last task left: the kernel finishes the exit asynchronously.
        if (await rmdirGroup(d)) break;
        if (Date.now() >= deadline) throw new Error(`cgroup ${d}: rmdir still busy`);
        await delay(POLL_MS);
      }
    }
  }

  /** True when the group's directory is there in every hierarchy (what the join needs). */
  async existsEverywhere(): Promise<boolean> {
    return this.directories().every((d) => {
      try {
        accessSync(d); // cgroupfs: kernel memory, no thread-pool hop needed
        return true;
      } catch {
        return false; // absent or unusable: either way the group is made (and any error met) again
      }
    });
  }

  /** True when the group exists in the hierarchy that enforces its memory limit. */
  async exists(): Promise<boolean> {
    const l = this.layout;
    const mount = l.version === "v2" ? l.unified.mountPoint : l.memory.mountPoint;
    try {
      accessSync(this.dir(mount));
      return true;
    } catch (error) {
      // ENOENT: there is no such group. Anything else means we cannot use it either; said, not hidden.
      if (!isErrno(error, "ENOENT")) reportSurvivable("process.cgroup", "look up group", error, { cgroup: this.name });
      return false;
    }
  }
}

/** rmdir each parent (nearest first) in every hierarchy; one still holding other groups stays. */
export async function removeEmptyParents(mounts: readonly string[], parents: readonly string[]): Promise<void> {
  for (const parent of parents) {
    const gone = await Promise.all(mounts.map((mount) => rmdirGroup(join(mount, parent))));
    if (gone.includes(false)) return;
  }
}

/**
 * One removeEmptyParents for all the groups of an environment: when 500 processes
 * stop together, their parents are tried a couple of times, not 500 times in each hierarchy.
 */
export function parentSweep(mounts: readonly string[], parents: readonly string[]): () => Promise<void> {
  return coalesced(() => removeEmptyParents(mounts, parents));
}
