// Memory and CPU of a whole process group (children included), read from its
// cgroup. CPU comes as a cumulative counter; a rate needs two samples, so the
// sampler keeps the previous one per process.
import type { ProcessCgroup } from "./types.js";

export interface CgroupSample {
  cpuNanos: number | null;
  memoryBytes: number | null;
  /** process.hrtime.bigint() when the sample was taken. */
  at: bigint;
}

export async function sampleCgroup(cgroup: ProcessCgroup): Promise<CgroupSample> {
  const [cpuNanos, memoryBytes] = await Promise.all([cgroup.cpuUsageNanos(), cgroup.memoryBytes()]);
  return { cpuNanos, memoryBytes, at: process.hrtime.bigint() };
}

/** Average CPU use between two samples in nano-cores (1e9 = one full core), or null when unknown. */
export function cpuNanoCoresBetween(prev: CgroupSample, next: CgroupSample): number | null {
  if (prev.cpuNanos === null || next.cpuNanos === null) return null;
  const wall = Number(next.at - prev.at);
  const used = next.cpuNanos - prev.cpuNanos;
  // A counter that went down belongs to a new group (the process was relaunched).
  if (wall <= 0 || used < 0) return null;
  return Math.round((used / wall) * 1e9);
}

export interface CgroupMetrics {
  cpuNanoCores: number | null;
  memoryBytes: number | null;
}

/**
 * One per process. `read()` reports CPU since the previous read; the first read
 * (or one after the group changed) takes a second sample `firstWindowMs` later
 * so it never answers null for a live process.
 */
export class CgroupMetricsSampler {
  private last: CgroupSample | undefined;
  private lastGroup: ProcessCgroup | undefined;

  /** @param firstWindowMs the wait between a first read's two samples (may be changed between reads) */
  constructor(public firstWindowMs = 100) {}

  async read(cgroup: ProcessCgroup): Promise<CgroupMetrics> {
    // By name: a relaunch gets a new group object for the same (kept) group, whose counter goes on.
    const last = (this.lastGroup?.name === cgroup.name ? this.last : undefined) ?? (await this.prime(cgroup));
    let next = await sampleCgroup(cgroup);
    let cpuNanoCores = cpuNanoCoresBetween(last, next);
    if (cpuNanoCores === null && next.cpuNanos !== null) {
      // The counter went back: the group was made anew since the last read.
      const primed = await this.prime(cgroup);
      next = await sampleCgroup(cgroup);
      cpuNanoCores = cpuNanoCoresBetween(primed, next);
    }
    this.last = next;
    return { cpuNanoCores, memoryBytes: next.memoryBytes };
  }

  private async prime(cgroup: ProcessCgroup): Promise<CgroupSample> {
    this.lastGroup = cgroup;
    const first = await sampleCgroup(cgroup);
    await new Promise((resolve) => setTimeout(resolve, this.firstWindowMs));
    return first;
  }
}
