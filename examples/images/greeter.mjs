#!/usr/bin/env node
// Answers every connection on its Unix socket with a greeting.
//   greeter.mjs <socket path> <process index>
import { createServer } from "node:net";

const [socketPath, index] = process.argv.slice(2);
const server = createServer((socket) => socket.end(`hello from greeter-${index} (pid ${process.pid})\n`));
server.listen(socketPath, () => console.log(`listening on ${socketPath}`));
process.on("SIGTERM", () => {
  console.log("SIGTERM: closing");
  server.close(() => process.exit(0));
});
