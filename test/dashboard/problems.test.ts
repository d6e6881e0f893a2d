// The daemon's own problems reach the page: a daemon that finds a state file it
// cannot load starts anyway (issue 13), and the dashboard says so above
// everything, while the processes it left alone keep running.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isPidAlive } from "../helpers.js";
import { type Harness, processesOfService, screenshot, startHarness } from "./harness.js";

describe("the dashboard shows what is wrong with the daemon", { timeout: 300_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness("problems");
  });
  after(async () => {
    await h?.cleanup();
  });

  it("an unloadable state file: a banner names it, the processes keep running", async () => {
    await h.page.goto(`${h.base}/?token=${h.daemon.token}`);
    await h.page.locator('[data-connection="live"]').waitFor();
    assert.equal(await h.page.locator("[data-daemon-problems]").count(), 0, "no banner while all is well");
    const pids = processesOfService(h.environment, "web");
    assert.ok(pids.length > 0, "web runs");

    // A hand edit that no daemon can load: a scale that is not a number.
    const file = join(h.stateDir, "desired.json");
    await h.restartDaemon({
      beforeStart: () => {
        const state = JSON.parse(readFileSync(file, "utf8")) as { services: Record<string, Record<string, unknown>> };
        state.services.web!.scale = "lots";
        writeFileSync(file, JSON.stringify(state));
      },
    });
    const banner = h.page.locator("[data-daemon-problems]");
    await banner.waitFor();
    assert.match((await banner.textContent()) ?? "", /state file could not be loaded.*scale/);
    await screenshot(h.page, "daemon-problems");
    for (const pid of pids) assert.ok(isPidAlive(pid), `web's process ${pid} was left alone`);
  });
});
