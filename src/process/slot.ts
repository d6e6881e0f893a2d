// One process slot of a service: the supervisor of its current process (a
// rolling change replaces it) and what outlives that process: the log, the
// TCP proxies whose addresses stay stable across restarts, the CPU samplers.
import type { ServiceProcessMetrics } from "../contract/types.js";
import { survive } from "../util/diagnostics.js";
import { CgroupMetricsSampler } from "./launch/cgroup-metrics.js";
import type { ProcessLog } from "./logs.js";
import { ProcessMetricsSampler } from "./metrics.js";
import type { ProcessSupervisor } from "./supervisor.js";
import type { TcpProxy } from "./tcp-proxy.js";

export class Slot {
  /** Port name → TCP proxy in front of the process's socket. */
  readonly proxies = new Map<string, TcpProxy>();
  /** Out of the service addresses' rotation, waiting for its connections there to end before it stops. */
  draining = false;
  readonly #procSampler = new ProcessMetricsSampler();
  readonly #cgroupSampler = new CgroupMetricsSampler();

  constructor(
    readonly log: ProcessLog,
    public supervisor: ProcessSupervisor,
  ) {}

  /** CPU and memory of the whole cgroup where the process has one (children included), else of its tree from /proc. */
  async metrics(): Promise<Pick<ServiceProcessMetrics, "cpuNanoCores" | "memoryBytes">> {
    const group = this.supervisor.processCgroup;
    if (group) {
      const metrics = await this.#cgroupSampler.read(group).catch(survive("process.metrics", "read cgroup", { cgroup: group.name }));
      if (metrics && metrics.memoryBytes !== null) return metrics;
    }
    return this.#procSampler.sample(this.supervisor.pid);
  }
}
