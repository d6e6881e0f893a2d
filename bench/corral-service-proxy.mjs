// corral's service address (ServiceBalancer from the built library) as a
// stand-alone process with the shared proxy harness's contract: listen on
// 127.0.0.1:<port>, forward every connection to the Unix socket <path>, here
// as the one ready process of a service, so the figure includes the
// balancer's pick and its accounting on top of the relay.
//   node bench/corral-service-proxy.mjs <port> <path>
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { ServiceBalancer } = await import(pathToFileURL(join(root, "dist/process/balancer.js")).href);
const [port, socketPath] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), "corral-bench-svc-"));
let errors = 0;
const balancer = await ServiceBalancer.listen({
  name: "bench",
  socket: { path: join(dir, "http") },
  tcp: { host: "127.0.0.1", port: Number(port) },
  policy: () => "round-robin",
  backends: () => [{ index: 0, socketPath }],
  waitForBackendMs: 5000,
  lingerMs: 10000,
  onConnectionError: () => {
    errors++;
  },
});
if (balancer.tcpPort !== Number(port)) {
  process.stderr.write(`corral-service-proxy: port ${port} was taken, listening on ${balancer.tcpPort}\n`);
  process.exit(1);
}
const bye = () => {
  if (errors) process.stderr.write(`corral-service-proxy: ${errors} connection errors\n`);
  void balancer.close().then(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
};
process.on("SIGTERM", bye);
process.on("SIGINT", bye);
