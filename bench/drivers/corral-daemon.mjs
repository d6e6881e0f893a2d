// TODO(issue 5, "The corral command and daemon"): a driver for the daemon.
// Not written yet on purpose: the daemon and CLI are being written at the same
// time as this benchmark. When they land, implement here, on the same contract
// as drivers/corral.mjs (extend the shared BaseDriver; spawn with spawnTracked):
//   setup(workdir)     write a corral.yaml with one service of `n` processes
//                      running command.argv (restart back-off 0) into workdir
//   startAll(n, cmd)   start the daemon (its own state dir inside workdir) and
//                      `corral up`; resolve with the n child pids (waitForN);
//                      also record when `corral ps --json` first shows n online
//   roots()            the daemon's pid (the processes are its direct children)
//   listPids()         `corral ps --json` -> pids with status "online"
//   stopAll()          `corral down` (or drop over the HTTP API), waitAllGone
//   teardown()         stop the daemon; the reaper kills what is left
// then add "corral-daemon" to DEFAULT drivers in run.mjs. Until then the
// driver reports itself unavailable and the runner skips it.
export async function createCorralDaemonDriver() {
  return {
    name: "corral-daemon",
    async available() {
      return "not implemented yet: the daemon driver waits for issue 5 (see bench/drivers/corral-daemon.mjs)";
    },
  };
}
