// Temp project folders for config tests, removed when the test ends.
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestContext } from "node:test";
import { ConfigError } from "../../src/config/index.js";

export const CONFIG_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "config");

/** An executable that is never run: config loading only checks it exists and may be executed. */
export const EXECUTABLE = { text: "#!/bin/sh\nexit 0\n", mode: 0o755 };

export type FileSpec = string | { text: string; mode: number };

/** A temp folder (named `name` inside a fresh temp dir) holding `files`; removed after the test. */
export function project(t: TestContext, files: Record<string, FileSpec>, name = "proj"): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), "corral-config-")));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, name);
  mkdirSync(dir);
  for (const [path, spec] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    const { text, mode } = typeof spec === "string" ? { text: spec, mode: 0o644 } : spec;
    writeFileSync(full, text);
    chmodSync(full, mode);
  }
  return dir;
}

/** Runs `fn`, expecting a ConfigError; returns it. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw new Error(`expected a ConfigError, got ${String(error)}`);
  }
  throw new Error("expected a ConfigError, but nothing was thrown");
}
