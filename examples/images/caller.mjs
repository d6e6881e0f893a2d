#!/usr/bin/env node
// Every half second, asks each greeter (sockets given as arguments) for its greeting and prints the answers.
import { connect } from "node:net";

const peers = process.argv.slice(2);
const ask = (path) =>
  new Promise((resolve) => {
    let answer = "";
    connect(path)
      .on("data", (d) => (answer += d))
      .on("end", () => resolve(answer.trim()))
      .on("error", (e) => resolve(`(${e.code})`));
  });
setInterval(async () => console.log((await Promise.all(peers.map(ask))).join(" | ")), 500);
process.on("SIGTERM", () => process.exit(0));
