// The service address in the dashboard, read-only session: the service page shows
// each port's Unix socket and TCP address as the daemon gives them and the
// balancer's figures, live; the services list shows the exposed TCP address and
// the open connections; a service without ports shows neither.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { serviceBody } from "../../src/server/wire-state.js";
import { type Harness, row, screenshot, SERVICES, startHarness, WAIT_MS } from "./harness.js";

// page.waitForFunction's callbacks run in the browser; the test program has no DOM types.
declare const document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };

/** Connections made through the TCP service address. */
const N = 7;

/** One connection to host:port, read to its end: server.mjs greets and closes. */
function greeting(address: string): Promise<string> {
  const at = address.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.slice(0, at), port: Number(address.slice(at + 1)) });
    let text = "";
    socket.setEncoding("utf8");
    socket.setTimeout(WAIT_MS, () => socket.destroy(new Error(`no greeting from ${address} in ${WAIT_MS} ms`)));
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

describe("the service address in the dashboard", { timeout: 180_000 }, () => {
  let h: Harness;
  const api = async (path: string) => {
    const res = await fetch(`${h.base}${path}`, { headers: { authorization: `Bearer ${h.daemon.token}` } });
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    return res.json();
  };
  /** A figure of the http port's card on the service page, as its data-value says. */
  const figure = (name: string) =>
    h.page.locator(`[data-service-address="http"] [data-edge="${name}"]`).getAttribute("data-value").then(Number);

  before(async () => {
    h = await startHarness("edge", {
      services: { web: { ...SERVICES.web!, ports: [{ name: "http", expose: true }] }, worker: SERVICES.worker! },
    });
  });
  after(async () => {
    await h?.cleanup();
  });

  it("shows the addresses the daemon gives, and counts real connections through the TCP one", async () => {
    // Signed in with the read-only token: GET /v1/services is in its scope.
    await h.page.goto(`${h.base}/`);
    await h.page.locator('input[name="token"]').fill(h.daemon.readToken);
    await h.page.locator('button[type="submit"]').click();
    await h.page.locator('[data-connection="live"]').waitFor();
    assert.equal((await h.page.locator("[data-read-only]").textContent())?.trim(), "read-only");
    for (const id of ["web-0", "web-1"]) await h.page.locator(row(id, "online")).waitFor();

    const web = serviceBody.parse(await api("/v1/services/web"));
    const address = web.serviceAddresses.http;
    assert.ok(address?.unix, `a Unix service address: ${JSON.stringify(web.serviceAddresses)}`);
    const tcp = address.tcp;
    assert.ok(tcp, `a TCP service address (expose: true): ${JSON.stringify(web.serviceAddresses)}`);
    assert.deepEqual(Object.keys(web.serviceAddresses), ["http"]);

    await h.page.goto(`${h.base}/#/services/web`);
    const card = h.page.locator('[data-service-address="http"]');
    await card.waitFor();
    assert.equal(await h.page.locator("[data-service-address]").count(), 1, "one card: the one port");
    assert.equal(await card.locator("[data-edge-unix]").getAttribute("data-edge-unix"), address.unix);
    assert.equal(await card.locator("[data-edge-unix] code").textContent(), address.unix, "the whole socket path");
    assert.equal(await card.locator("[data-edge-tcp]").getAttribute("data-edge-tcp"), address.tcp);
    const link = card.locator("[data-edge-tcp] a");
    assert.equal(await link.textContent(), address.tcp);
    assert.equal(await link.getAttribute("href"), `http://${address.tcp}/`, "a link, as a process's TCP address is");
    const totalBefore = await figure("total");

    const greetings = await Promise.all(Array.from({ length: N }, () => greeting(tcp)));
    for (const text of greetings) assert.match(text, /^dash \d+ [01]\n$/, "server.mjs greets through the balancer");
    const sent = greetings.reduce((sum, text) => sum + Buffer.byteLength(text), 0);

    // The page takes the figures from its regular poll: wait (bounded) for it to catch up.
    // (No named functions inside: tsx would wrap them in a helper the browser does not have.)
    await h.page.waitForFunction(
      ({ n, bytes }) => {
        const [total, bytesOut, active] = ["total", "bytes-out", "active"].map((name) =>
          Number(document.querySelector(`[data-service-address="http"] [data-edge="${name}"]`)?.getAttribute("data-value")),
        );
        return total! >= n && bytesOut! >= bytes && active === 0;
      },
      { n: totalBefore + N, bytes: sent },
      { timeout: WAIT_MS },
    );
    const total = await figure("total");
    assert.ok(total >= totalBefore + N, `total ${total} after ${N} connections`);
    assert.equal(await card.locator('[data-edge="total"] dd').textContent(), String(total), "the figure shown is the figure");
    assert.match((await card.locator('[data-edge="bytes-out"] dd').textContent()) ?? "", /^\d+(\.\d)? (B|KiB)$/, "bytes read as bytes");
    // Every figure the daemon gives, each as the daemon gave it (the page's last poll against a fresh answer: they only grow).
    const edge = serviceBody.parse(await api("/v1/services/web")).edge.find((e) => e.port === "http");
    assert.ok(edge, "the daemon gives figures for the port");
    for (const [name, field] of [
      ["total", "total"],
      ["bytes-in", "bytesIn"],
      ["bytes-out", "bytesOut"],
      ["retries", "retries"],
      ["backend-errors", "backendErrors"],
      ["drained", "drained"],
      ["failed", "failed"],
    ] as const) {
      const shown = await figure(name);
      assert.ok(shown <= edge[field], `${name}: the page's ${shown} is at most the daemon's ${edge[field]}`);
    }
    assert.equal(edge.failed, 0, "two processes ready: no connection went without one");
    assert.equal(await figure("failed"), 0);
    await screenshot(h.page, "service-address");
  });

  it("shows no service address for a service without ports", async () => {
    assert.deepEqual(serviceBody.parse(await api("/v1/services/worker")).serviceAddresses, {});
    await h.page.goto(`${h.base}/#/services/worker`);
    await h.page.locator('[data-service-page="worker"]').waitFor();
    await h.page.locator("[data-config]", { hasText: "command" }).waitFor();
    assert.equal(await h.page.locator("[data-service-addresses]").count(), 0);
  });

  it("lists the exposed TCP address and the open connections beside each service", async () => {
    const address = serviceBody.parse(await api("/v1/services/web")).serviceAddresses.http;
    assert.ok(address?.tcp);
    await h.page.goto(`${h.base}/#/`);
    const line = h.page.locator('tbody[data-service="web"] [data-service-edge="http"]');
    await line.waitFor();
    assert.equal(await line.locator("a.tcp").textContent(), address.tcp);
    assert.equal(await line.locator("a.tcp").getAttribute("href"), `http://${address.tcp}/`);
    assert.equal(await line.locator('[data-edge="active"]').textContent(), "0 active");
    assert.equal(await h.page.locator('tbody[data-service="worker"] [data-service-edge]').count(), 0, "no ports, no line");
    await screenshot(h.page, "services-edge");
  });
});
