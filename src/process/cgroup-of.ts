// The cgroups a running process is in, as the `cgroup.procs` files a new
// process joins to run next to it (`corral exec`): every hierarchy where the
// process's group differs from the caller's own (the groups corral made for
// it), mapped to where that hierarchy is mounted.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseMountInfo } from "./launch/cgroup-layout.js";
import { reportSurvivable } from "../util/diagnostics.js";

/** `hierarchy id:controllers:path` lines of /proc/<pid>/cgroup, keyed by controllers ("" for v2). */
function groupsOf(pid: number | "self"): Map<string, string> {
  const groups = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n")) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match) groups.set(match[1]!, match[2]!);
  }
  return groups;
}

export function cgroupProcsFiles(pid: number): string[] {
  try {
    const own = groupsOf("self");
    const mounts = parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8"));
    const files: string[] = [];
    for (const [controllers, path] of groupsOf(pid)) {
      if (path === "/" || own.get(controllers) === path) continue;
      const mount =
        controllers === ""
          ? mounts.find((m) => m.fsType === "cgroup2")
          : mounts.find((m) => m.fsType === "cgroup" && controllers.split(",").every((c) => m.superOptions.includes(c)));
      if (mount) files.push(join(mount.mountPoint, path, "cgroup.procs"));
    }
    return files;
  } catch (error) {
    // A process that is gone (or a /proc we cannot read): the command runs outside its groups, which the caller hears of.
    reportSurvivable("process.cgroup-of", "read the cgroups of a process", error, { pid });
    return [];
  }
}
