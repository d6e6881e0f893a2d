// Picks the launcher for an orchestrator. "auto" prefers systemd where it really
// runs a user manager (the seed's choice, and systemd should own the cgroups it
// manages), then raw cgroups when we may write them, then direct with a warning.
import { CgroupLauncher } from "./cgroup-launcher.js";
import type { CgroupLauncherOptions } from "./cgroup-launcher.js";
import { detectCgroupLayout } from "./cgroup-layout.js";
import { DirectLauncher } from "./direct.js";
import { SystemdLauncher, systemdUserManagerAvailable } from "./systemd.js";
import type { Launcher, LauncherKind } from "./types.js";

export interface SelectLauncherOptions extends CgroupLauncherOptions {
  /** Default "systemd-run" (looked up on PATH at spawn). */
  systemdRunPath?: string;
  /** sd_booted(3)'s marker, for tests. Default /run/systemd/system. */
  systemdBootedMarker?: string;
  /** Used to ask the user manager whether it runs. Default "systemctl". */
  systemctlPath?: string;
  /** How long the user manager may take to answer. Default 2000 ms. */
  systemdProbeTimeoutMs?: number;
}

export async function selectLauncher(kind: "auto" | LauncherKind, opts: SelectLauncherOptions = {}): Promise<Launcher> {
  const systemd = () => new SystemdLauncher(opts.systemdRunPath === undefined ? {} : { systemdRunPath: opts.systemdRunPath });
  switch (kind) {
    case "direct":
      return new DirectLauncher();
    case "systemd":
      // Asked for by name: trusted, and a missing systemd shows up as a spawn failure.
      return systemd();
    case "cgroup":
      return CgroupLauncher.create(opts);
    case "auto":
      break;
    default:
      throw new Error(`unknown launcher ${JSON.stringify(kind satisfies never)}`);
  }
  const probe: Parameters<typeof systemdUserManagerAvailable>[0] = {};
  if (opts.systemdBootedMarker !== undefined) probe.bootedMarker = opts.systemdBootedMarker;
  if (opts.systemctlPath !== undefined) probe.systemctlPath = opts.systemctlPath;
  if (opts.systemdProbeTimeoutMs !== undefined) probe.timeoutMs = opts.systemdProbeTimeoutMs;
  if (await systemdUserManagerAvailable(probe)) return systemd();
  const detected = await detectCgroupLayout(opts.cgroupRoot === undefined ? {} : { cgroupRoot: opts.cgroupRoot });
  if (detected.layout) return new CgroupLauncher(detected.layout, opts);
  return new DirectLauncher(`no systemd user manager, and cgroups are unusable (${detected.reason ?? "unknown"})`);
}
