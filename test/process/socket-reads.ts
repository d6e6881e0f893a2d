// Reading what a test socket receives, for the proxy and relay suites.
import type { Socket } from "node:net";

/** Collects a socket's bytes until the peer ends its half. */
export function readToEnd(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.once("end", () => resolve(Buffer.concat(chunks)));
    socket.once("error", reject);
  });
}

/** Reads until `count` bytes arrived (or the socket ended), then pauses the socket. */
export function readBytes(socket: Socket, count: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (): void => {
      socket.off("data", onData);
      socket.off("end", finish);
      socket.off("error", onError);
      socket.pause();
      resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= count) finish();
    };
    const onError = (error: Error): void => {
      socket.off("data", onData);
      socket.off("end", finish);
      reject(error);
    };
    socket.on("data", onData);
    socket.once("end", finish);
    socket.once("error", onError);
    socket.resume();
  });
}
