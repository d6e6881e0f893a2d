// Limits without systemd: one cgroup per process at
// `<hierarchy>/<parent>/<environmentId>/<fullId>-<processIndex>` in every
// hierarchy the layout uses. The child is a `sh` that writes its own PID into
// each group's cgroup.procs and only then execs the program, so not one
// instruction of the program (nor any fork of it) runs outside the limits.
import { mkdirSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CgroupGroup, parentSweep, removeEmptyParents } from "./cgroup-group.js";
import { errnoCode } from "../../util/errno.js";
import { readText, rmdirGroup, tryWriteValue, writeValue } from "./cgroup-fs.js";
import type { CgroupLayout } from "./cgroup-layout.js";
import { detectCgroupLayout, hierarchiesOf } from "./cgroup-layout.js";
import { programAsUser } from "./run-as.js";
import type { LaunchRequest, Launcher, PreparedLaunch, ProcessCgroup } from "./types.js";

/** Exit code of the wrapper shell when it could not join the group (the program never ran). */
export const CGROUP_JOIN_FAILED_EXIT_CODE = 125;

const CFS_PERIOD_US = 100_000;
/** The kernel refuses quotas under 1 ms. */
const CFS_MIN_QUOTA_US = 1000;

export interface CgroupLauncherOptions {
  /** Where the cgroup filesystems are mounted. Default /sys/fs/cgroup. */
  cgroupRoot?: string;
  /** Group (below each hierarchy's root) that holds corral's groups. Default "corral". */
  parentGroup?: string;
  /** Shell used to join the group before exec. Default /bin/sh. */
  shell?: string;
}

// Names become directory names in cgroupfs: nothing that could climb out or nest.
const NAME_PART = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

function checkPart(what: string, value: string): string {
  if (!NAME_PART.test(value) || value.length > 200) {
    throw new Error(`cgroup launcher: ${what} ${JSON.stringify(value)} cannot name a cgroup (letters, digits, "_", "-", ".")`);
  }
  return value;
}

/** What applyLimits writes, as one comparable string. */
function limitsKey(req: LaunchRequest): string {
  return JSON.stringify([req.memoryLimit?.bytes ?? null, req.cpuLimit?.millicpus ?? null, req.pidsLimit ?? null]);
}

export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export class CgroupLauncher implements Launcher {
  readonly kind = "cgroup" as const;
  private readonly parentGroup: string;
  private readonly shell: string;
  /** Per environment directory: the one coalesced sweep of its (and corral's) parent groups. */
  private readonly parentSweeps = new Map<string, () => Promise<void>>();
  /**
   * Groups this instance made and configured, with the limits written: a relaunch
   * with the same limits skips the dozen mkdir and limit writes. A new instance
   * (after a crash) starts empty, so it checks and writes everything once.
   */
  private readonly configured = new Map<string, string>();

  constructor(
    readonly layout: CgroupLayout,
    opts: CgroupLauncherOptions = {},
  ) {
    this.parentGroup = opts.parentGroup ?? "corral";
    for (const part of this.parentGroup.split("/")) checkPart("parentGroup", part);
    this.shell = opts.shell ?? "/bin/sh";
  }

  /** Detects the host's layout; rejects with the reason when cgroups cannot be used here. */
  static async create(opts: CgroupLauncherOptions = {}): Promise<CgroupLauncher> {
    const detected = await detectCgroupLayout(opts.cgroupRoot === undefined ? {} : { cgroupRoot: opts.cgroupRoot });
    if (!detected.layout) throw new Error(`cgroup launcher unavailable: ${detected.reason ?? "unknown reason"}`);
    return new CgroupLauncher(detected.layout, opts);
  }

  private group(req: Pick<LaunchRequest, "environmentId" | "fullId" | "processIndex">): CgroupGroup {
    if (!Number.isSafeInteger(req.processIndex) || req.processIndex < 0) {
      throw new Error(`cgroup launcher: bad processIndex ${req.processIndex}`);
    }
    const env = `${this.parentGroup}/${checkPart("environmentId", req.environmentId)}`;
    const name = `${env}/${checkPart("fullId", req.fullId)}-${req.processIndex}`;
    const sweepParents = this.parentSweepOf(env);
    return new CgroupGroup(this.layout, name, () => {
      this.configured.delete(name);
      return sweepParents();
    });
  }

  /** Parents nearest first, down to (and including) the first component of parentGroup. */
  private parentsOf(envDir: string): string[] {
    const parents = [envDir];
    const parts = this.parentGroup.split("/");
    for (let i = parts.length; i > 0; i--) parents.push(parts.slice(0, i).join("/"));
    return parents;
  }

  private parentSweepOf(envDir: string): () => Promise<void> {
    let sweep = this.parentSweeps.get(envDir);
    if (!sweep) {
      sweep = parentSweep(hierarchiesOf(this.layout), this.parentsOf(envDir));
      this.parentSweeps.set(envDir, sweep);
    }
    return sweep;
  }

  async sweep(environmentId: string): Promise<void> {
    // The environment's directory as group() names it (its nearest parent), so the two cannot differ.
    const probe = this.group({ environmentId, fullId: "probe", processIndex: 0 });
    const envDir = dirname(probe.name);
    const mounts = hierarchiesOf(this.layout);
    const listed = await Promise.all(
      mounts.map((mount) =>
        readdir(join(mount, envDir), { withFileTypes: true }).then(
          (children) => children.filter((child) => child.isDirectory()).map((child) => child.name),
          (error: unknown) => {
            if (errnoCode(error) === "ENOENT") return [];
            throw error;
          },
        ),
      ),
    );
    // Only empty groups go, all at once, and rmdir itself tells: it refuses a group
    // with processes (EBUSY). A process joins the first hierarchy first, so that one
    // is removed first: a process part-way through its joins keeps every group,
    // and one that has not begun fails its first join without running a thing.
    const [first, ...rest] = mounts;
    await Promise.all(
      [...new Set(listed.flat())].map(async (name) => {
        if (first !== undefined && !(await rmdirGroup(join(first, envDir, name)))) return;
        await Promise.all(rest.map((mount) => rmdirGroup(join(mount, envDir, name))));
      }),
    );
    await removeEmptyParents(mounts, this.parentsOf(envDir));
  }

  /** The group a process of this environment would get, whether or not it exists. */
  groupFor(req: Pick<LaunchRequest, "environmentId" | "fullId" | "processIndex">): ProcessCgroup {
    return this.group(req);
  }

  async prepare(req: LaunchRequest): Promise<PreparedLaunch> {
    const group = this.group(req);
    const limits = limitsKey(req);
    // The relaunch of a process this instance configured, with unchanged limits,
    // skips the mkdirs and limit writes. Checked to be still there in every
    // hierarchy: a group removed behind our back would fail the join each time.
    const reused = this.configured.get(group.name) === limits && (await group.existsEverywhere());
    let fresh = false;
    if (!reused) {
      this.configured.delete(group.name);
      fresh = await this.create(group);
    }
    // A group left populated belongs to a dead earlier incarnation of this
    // process (its orphans may hold ports or files): they go before the new one starts.
    // One made just now holds nothing and has counted no OOM kill.
    if (!fresh && (await group.isPopulated())) await group.kill();
    if (!reused) {
      await this.applyLimits(group, req, fresh);
      this.configured.set(group.name, limits);
    }
    const oomKillsBefore = fresh ? 0 : await group.oomKillCount();

    const joins = group.directories().map((d) => `echo $$ > ${shellQuote(join(d, "cgroup.procs"))}`);
    const script = `${joins.join(" && ")} || exit ${CGROUP_JOIN_FAILED_EXIT_CODE}; exec "$@"`;
    // Joined as root (cgroup.procs is root's to write), then privileges dropped: setpriv comes after the join.
    const { program, args } = programAsUser(req);
    return {
      command: this.shell,
      args: ["-c", script, "sh", program, ...args],
      cgroup: group,
      oomKillsBefore,
    };
  }

  async reopen(req: Pick<LaunchRequest, "environmentId" | "fullId" | "processIndex">): Promise<ProcessCgroup | null> {
    const group = this.group(req);
    return (await group.exists()) ? group : null;
  }

  /**
   * Makes the group in every hierarchy; true when it was made in all of them just
   * now, so it holds the kernel's defaults and no process. Synchronous, as
   * cgroupfs reads and writes are (cgroup-fs.ts): a mkdir there makes a kernel
   * object and never waits on a disk.
   */
  private async create(group: CgroupGroup): Promise<boolean> {
    let fresh = true;
    for (const mount of hierarchiesOf(this.layout)) {
      const dir = join(mount, group.name);
      for (let attempt = 0; ; attempt++) {
        try {
          mkdirSync(dir);
          break;
        } catch (err) {
          const code = errnoCode(err);
          if (code === "EEXIST") {
            fresh = false;
            break;
          }
          if (code !== "ENOENT" || attempt >= 20) throw err;
          // Its parents are missing, or another process of the environment is
          // removing the (then empty) parent at this moment: made again, and retried.
          try {
            mkdirSync(dirname(dir), { recursive: true });
          } catch (parentErr) {
            if (errnoCode(parentErr) !== "ENOENT") throw parentErr;
          }
        }
      }
    }
    if (this.layout.version === "v2") await this.enableControllers(group.name);
    return fresh;
  }

  /** v2: a group only gets the memory/cpu/pids files when every ancestor delegates those controllers. */
  private async enableControllers(name: string): Promise<void> {
    if (this.layout.version !== "v2") return;
    const mount = this.layout.unified.mountPoint;
    const parts = name.split("/");
    for (let i = 0; i < parts.length; i++) {
      const dir = join(mount, ...parts.slice(0, i));
      const available = (await readText(join(dir, "cgroup.controllers")))?.trim().split(/\s+/) ?? [];
      const enabled = (await readText(join(dir, "cgroup.subtree_control")))?.trim().split(/\s+/) ?? [];
      for (const c of ["memory", "cpu", "pids"]) {
        if (enabled.includes(c) || !available.includes(c)) continue;
        const ok = await tryWriteValue(join(dir, "cgroup.subtree_control"), `+${c}`);
        if (!ok && c !== "pids") throw new Error(`cgroup v2: cannot enable the ${c} controller in ${dir}`);
      }
    }
  }

  /**
   * Writes the group's limits. A `fresh` group (made just now) already holds the
   * kernel's defaults, which are "no limit" everywhere, thawed, and a CFS period
   * of 100 ms: only what differs from them is written. An older group (left by an
   * earlier instance, or configured with other limits) gets every value.
   */
  private async applyLimits(group: CgroupGroup, req: LaunchRequest, fresh: boolean): Promise<void> {
    const l = this.layout;
    const bytes = req.memoryLimit?.bytes;
    const quotaUs = req.cpuLimit ? Math.max(CFS_MIN_QUOTA_US, Math.round((req.cpuLimit.millicpus * CFS_PERIOD_US) / 1000)) : undefined;
    const pids = req.pidsLimit;
    const all = !fresh;
    // A kill interrupted half-way (orchestrator died) can leave the group frozen; a new child would stop dead.
    if (all && l.unified) await tryWriteValue(join(l.unified.mountPoint, group.name, "cgroup.freeze"), "0");
    if (all && l.version === "v1" && l.freezer) await tryWriteValue(join(l.freezer.mountPoint, group.name, "freezer.state"), "THAWED");
    if (l.version === "v2") {
      const d = join(l.unified.mountPoint, group.name);
      if (all || bytes !== undefined) await writeValue(join(d, "memory.max"), bytes === undefined ? "max" : String(bytes));
      // A limit means "this much memory", not "this much RAM plus any amount of swap".
      if (all || bytes !== undefined) await tryWriteValue(join(d, "memory.swap.max"), bytes === undefined ? "max" : "0");
      // An OOM kill takes the whole group, as on Kubernetes: half a process tree is worse than none.
      await tryWriteValue(join(d, "memory.oom.group"), "1");
      if (all || quotaUs !== undefined) await writeValue(join(d, "cpu.max"), `${quotaUs === undefined ? "max" : quotaUs} ${CFS_PERIOD_US}`);
      if (all || pids !== undefined) await tryWriteValue(join(d, "pids.max"), pids === undefined ? "max" : String(pids));
      return;
    }
    const mem = join(l.memory.mountPoint, group.name);
    // memsw (RAM + swap) must stay >= the RAM limit at every step: lift it first (a fresh one is unlimited).
    const memsw = join(mem, "memory.memsw.limit_in_bytes");
    if (all) await tryWriteValue(memsw, "-1");
    if (all || bytes !== undefined) await writeValue(join(mem, "memory.limit_in_bytes"), bytes === undefined ? "-1" : String(bytes));
    if (bytes !== undefined) await tryWriteValue(memsw, String(bytes));
    const cpu = join(l.cpu.mountPoint, group.name);
    if (all) await writeValue(join(cpu, "cpu.cfs_period_us"), String(CFS_PERIOD_US));
    if (all || quotaUs !== undefined) await writeValue(join(cpu, "cpu.cfs_quota_us"), quotaUs === undefined ? "-1" : String(quotaUs));
    if (l.pids && (all || pids !== undefined)) {
      await tryWriteValue(join(l.pids.mountPoint, group.name, "pids.max"), pids === undefined ? "max" : String(pids));
    }
  }
}
