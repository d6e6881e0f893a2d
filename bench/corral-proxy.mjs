// corral's TCP proxy (TcpProxy from the built library) as a stand-alone
// process with the shared proxy harness's contract: listen on
// 127.0.0.1:<port>, forward every connection to the Unix socket <path>.
//   node bench/corral-proxy.mjs <port> <path>
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { packageRootFile } from "./package-root.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { TcpProxy } = await import(pathToFileURL(packageRootFile(root)).href);
const [port, socketPath] = process.argv.slice(2);
let errors = 0;
const proxy = await TcpProxy.listen({
  host: "127.0.0.1",
  portHint: Number(port),
  socketPath,
  name: "bench",
  onConnectionError: () => {
    errors++;
  },
});
if (proxy.port !== Number(port)) {
  process.stderr.write(`corral-proxy: port ${port} was taken, listening on ${proxy.port}\n`);
  process.exit(1);
}
const bye = () => {
  if (errors) process.stderr.write(`corral-proxy: ${errors} connection errors\n`);
  void proxy.close().then(() => process.exit(0));
};
process.on("SIGTERM", bye);
process.on("SIGINT", bye);
