// The cgroups a corral run leaves behind when its host is SIGKILLed: under
// /sys/fs/cgroup/<mount>/corral/, the groups whose name `matches` are removed,
// deepest first. Returns the directories that would not go.
import { readdirSync, rmdirSync, statSync } from "node:fs";
import { join } from "node:path";

export function removeCorralCgroups(matches) {
  const left = [];
  const rm = (dir) => {
    let entries = [];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // gone meanwhile
    }
    for (const e of entries) if (e.isDirectory()) rm(join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch (err) {
      if (err.code !== "ENOENT") left.push(dir);
    }
  };
  let mounts = [];
  try {
    mounts = readdirSync("/sys/fs/cgroup");
  } catch {
    return []; // no cgroup file system here
  }
  for (const m of mounts) {
    const base = join("/sys/fs/cgroup", m, "corral");
    let groups = [];
    try {
      groups = readdirSync(base).filter(matches);
    } catch {
      continue; // this hierarchy has no corral groups
    }
    for (const g of groups) {
      try {
        if (statSync(join(base, g)).isDirectory()) rm(join(base, g));
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return left;
}
