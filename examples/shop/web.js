// A stand-in web server: HTTP on its Unix socket, logs a heartbeat every 200 ms (so a demo of `corral logs -f` shows lines at once).
import { createServer } from "node:http";

const socketPath = process.argv[2];
createServer((req, res) => res.end(`web ${process.env.GREETING ?? "hello"} ${process.pid}\n`)).listen(socketPath, () =>
  console.log(`web listening on ${socketPath}`),
);
let n = 0;
setInterval(() => console.log(`web heartbeat ${n++} level=${process.env.LOG_LEVEL}`), 200);
process.on("SIGTERM", () => process.exit(0));
