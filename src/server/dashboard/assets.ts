// The built page (dist/web, made by `npm run build:web`): loaded once, gzipped
// once, served with ETags.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { FastifyReply, FastifyRequest } from "fastify";
import { reportSurvivable } from "../../util/diagnostics.js";

interface Asset {
  body: Buffer;
  gzipped: Buffer;
  type: string;
  etag: string;
}

export interface Bundle {
  index: string;
  assets: Map<string, Asset>;
}

const TYPES: Record<string, string> = { js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8" };

let bundle: Promise<Bundle | null> | null = null;

/**
 * dist/web beside the bundled command (dist/cli-bundle) or the compiled server
 * (dist/server/dashboard), or from the sources (src/server/dashboard) during
 * development: the first that holds a built app (the sources' web/ has an
 * index.html but no app.js, and is two levels up from the bundle).
 */
function bundleDir(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [join(here, "..", "web"), join(here, "..", "..", "web"), join(here, "..", "..", "..", "dist", "web")]) {
    if (existsSync(join(dir, "index.html")) && existsSync(join(dir, "app.js"))) return dir;
  }
  return null;
}

export function loadBundle(): Promise<Bundle | null> {
  bundle ??= (async () => {
    const dir = bundleDir();
    if (!dir) return null;
    const assets = new Map<string, Asset>();
    for (const [name, ext] of [
      ["app.js", "js"],
      ["app.css", "css"],
    ] as const) {
      const body = await readFile(join(dir, name));
      assets.set(name, {
        body,
        gzipped: gzipSync(body, { level: 9 }),
        type: TYPES[ext]!,
        etag: `"${createHash("sha1").update(body).digest("base64url")}"`,
      });
    }
    return { index: await readFile(join(dir, "index.html"), "utf8"), assets };
  })().catch((error: unknown) => {
    reportSurvivable("server.dashboard", "load the page bundle", error);
    return null;
  });
  // Not cached when missing, so a build made while the daemon runs is picked up.
  void bundle.then((b) => {
    if (!b) bundle = null;
  });
  return bundle;
}

export function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  reply
    .header("etag", asset.etag)
    .header("cache-control", "no-cache")
    .header("vary", "accept-encoding")
    .header("x-content-type-options", "nosniff")
    .type(asset.type);
  if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
  if (/\bgzip\b/.test(String(request.headers["accept-encoding"] ?? "")))
    return reply.header("content-encoding", "gzip").send(asset.gzipped);
  return reply.send(asset.body);
}
