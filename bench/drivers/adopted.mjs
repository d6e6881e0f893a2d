// What the library and daemon drivers share once processes were adopted: they
// are no longer the manager's children, so /proc alone tells when they are gone.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** Resolves once every pid of `pids` has exited (the shared harness's waitFor: it rejects after `timeoutMs`). */
export async function waitAdoptedGone(sharedDir, pids, timeoutMs, label) {
  const imp = (p) => import(pathToFileURL(join(sharedDir, p)).href);
  const [{ isAlive }, { waitFor }] = await Promise.all([imp("lib/proc.mjs"), imp("lib/timing.mjs")]);
  const watch = new Set(pids);
  return waitFor(
    () => {
      for (const p of watch) {
        if (isAlive(p)) return false;
        watch.delete(p);
      }
      return true;
    },
    { timeoutMs, intervalMs: 5, label },
  );
}
