// Finds which cgroup hierarchies this host has and which of them corral can use.
// Hosts come in three shapes: v2 only (one unified tree with the memory and cpu
// controllers), v1 only (one tree per controller, sometimes co-mounted like
// "cpu,cpuacct"), and hybrid (v1 controllers plus a controller-less v2 tree that
// still offers cgroup.kill and cgroup.events). The shape is read from
// /proc/self/mountinfo rather than guessed from directory names.
import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { join, resolve, sep } from "node:path";

export interface CgroupMount {
  mountPoint: string;
  /** v1: the controllers of this hierarchy; v2: those listed in the root's cgroup.controllers. */
  controllers: string[];
  readOnly: boolean;
}

export type CgroupLayout =
  | {
      version: "v2";
      unified: CgroupMount;
    }
  | {
      version: "v1";
      /** Hierarchy per controller; co-mounted controllers share a mount. */
      memory: CgroupMount;
      cpu: CgroupMount;
      cpuacct?: CgroupMount;
      pids?: CgroupMount;
      freezer?: CgroupMount;
      /** A controller-less v2 tree (hybrid hosts): used for cgroup.kill and cgroup.events. */
      unified?: CgroupMount;
    };

export interface DetectedLayout {
  layout: CgroupLayout | null;
  /** Why no layout is usable, when `layout` is null. */
  reason?: string;
}

interface MountInfoEntry {
  mountPoint: string;
  fsType: string;
  mountOptions: string[];
  superOptions: string[];
}

/** Mount points are octal-escaped in mountinfo (`\040` for a space). */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const [left, right] = line.split(" - ");
    if (left === undefined || right === undefined) continue;
    const l = left.split(" ");
    const r = right.split(" ");
    const mountPoint = l[4];
    const fsType = r[0];
    if (mountPoint === undefined || fsType === undefined) continue;
    out.push({
      mountPoint: unescapeMountPath(mountPoint),
      fsType,
      mountOptions: (l[5] ?? "").split(","),
      superOptions: (r[2] ?? "").split(","),
    });
  }
  return out;
}

const V1_CONTROLLERS = new Set([
  "memory",
  "cpu",
  "cpuacct",
  "pids",
  "freezer",
  "cpuset",
  "devices",
  "blkio",
  "net_cls",
  "net_prio",
  "perf_event",
  "hugetlb",
  "rdma",
  "misc",
]);

function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

async function writable(path: string): Promise<boolean> {
  try {
    await access(path, constants.W_OK);
    return true;
  } catch {
    // access(2) answers the one question asked: whether we may write there.
    return false;
  }
}

/**
 * Reads the cgroup mounts under `cgroupRoot` (default /sys/fs/cgroup) and picks
 * the API that enforces limits: v2 when the unified tree has both the memory and
 * cpu controllers, else v1 when memory and cpu hierarchies exist. A layout whose
 * needed hierarchies are read-only or not writable by us is reported unusable.
 */
export async function detectCgroupLayout(opts: { cgroupRoot?: string; mountInfoPath?: string } = {}): Promise<DetectedLayout> {
  const root = resolve(opts.cgroupRoot ?? "/sys/fs/cgroup");
  let text: string;
  try {
    text = await readFile(opts.mountInfoPath ?? "/proc/self/mountinfo", "utf8");
  } catch (err) {
    return { layout: null, reason: `cannot read mountinfo: ${(err as Error).message}` };
  }
  const entries = parseMountInfo(text).filter((e) => isUnder(e.mountPoint, root));

  let unified: CgroupMount | undefined;
  const v1 = new Map<string, CgroupMount>();
  for (const e of entries) {
    const readOnly = e.mountOptions.includes("ro") || e.superOptions.includes("ro");
    if (e.fsType === "cgroup2" && !unified) {
      let controllers: string[] = [];
      try {
        controllers = (await readFile(join(e.mountPoint, "cgroup.controllers"), "utf8")).trim().split(/\s+/).filter(Boolean);
      } catch {
        // A tree without a readable controller list is still good for cgroup.kill.
      }
      unified = { mountPoint: e.mountPoint, controllers, readOnly };
    } else if (e.fsType === "cgroup") {
      const controllers = e.superOptions.filter((o) => V1_CONTROLLERS.has(o));
      const mount: CgroupMount = { mountPoint: e.mountPoint, controllers, readOnly };
      for (const c of controllers) if (!v1.has(c)) v1.set(c, mount);
    }
  }

  if (unified && unified.controllers.includes("memory") && unified.controllers.includes("cpu")) {
    if (unified.readOnly || !(await writable(unified.mountPoint))) {
      return { layout: null, reason: `cgroup v2 at ${unified.mountPoint} is not writable` };
    }
    return { layout: { version: "v2", unified } };
  }

  const memory = v1.get("memory");
  const cpu = v1.get("cpu");
  if (!memory || !cpu) {
    return { layout: null, reason: `no cgroup with the memory and cpu controllers under ${root}` };
  }
  for (const m of [memory, cpu]) {
    if (m.readOnly || !(await writable(m.mountPoint))) {
      return { layout: null, reason: `cgroup v1 hierarchy ${m.mountPoint} is not writable` };
    }
  }
  const optional = async (m: CgroupMount | undefined): Promise<CgroupMount | undefined> =>
    m && !m.readOnly && (await writable(m.mountPoint)) ? m : undefined;
  const layout: CgroupLayout = { version: "v1", memory, cpu };
  const cpuacct = await optional(v1.get("cpuacct"));
  const pids = await optional(v1.get("pids"));
  const freezer = await optional(v1.get("freezer"));
  const hybrid = await optional(unified);
  if (cpuacct) layout.cpuacct = cpuacct;
  if (pids) layout.pids = pids;
  if (freezer) layout.freezer = freezer;
  if (hybrid) layout.unified = hybrid;
  return { layout };
}

/** The distinct mount points a process joins under this layout (co-mounted controllers once). */
export function hierarchiesOf(layout: CgroupLayout): string[] {
  if (layout.version === "v2") return [layout.unified.mountPoint];
  // The unified hierarchy first: a process joins the groups in this order, and
  // isPopulated reads unified's cgroup.events, so a process part-way through
  // its joins already counts (an adopter must not take its group for empty).
  const all = [layout.unified, layout.memory, layout.cpu, layout.cpuacct, layout.pids, layout.freezer];
  return [...new Set(all.filter((m): m is CgroupMount => m !== undefined).map((m) => m.mountPoint))];
}
