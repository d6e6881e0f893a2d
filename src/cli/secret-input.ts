// `corral secrets set` without a value on the command line: typed at a prompt
// that does not echo (a terminal), or read from stdin (a pipe). And the store
// it writes into when no daemon runs.
import { mkdir } from "node:fs/promises";
import { validateId } from "../contract/validation.js";
import { ProcessSecretsController } from "../process/secrets.js";
import { DesiredStateStore } from "../server/desired-store.js";
import { STATE_DIR_MODE, statePaths } from "../server/state-dir.js";
import { CliError, EXIT } from "./context.js";

/** The value from a no-echo prompt on a terminal, else all of stdin; one trailing newline is not part of it. */
export async function readSecretValue(id: string): Promise<Buffer> {
  validateId("secret id", id);
  const raw = process.stdin.isTTY ? await promptHidden(`value of secret ${id}: `) : await readStdin();
  return stripOneNewline(raw);
}

export function stripOneNewline(raw: Buffer): Buffer {
  if (raw.at(-1) !== 0x0a) return raw;
  return raw.subarray(0, raw.at(-2) === 0x0d ? -2 : -1);
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

/** Reads one line in raw mode, echoing nothing; Ctrl-C or Ctrl-D on an empty line aborts. */
function promptHidden(prompt: string): Promise<Buffer> {
  const input = process.stdin;
  // Raw (no echo) before the prompt: whatever is typed once it shows is never echoed.
  input.setRawMode(true);
  process.stderr.write(prompt);
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = Buffer.alloc(0);
    const finish = (error?: Error) => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const byte of chunk) {
        if (byte === 0x03 || (byte === 0x04 && typed.length === 0)) return finish(new CliError("no secret set", EXIT.failed));
        if (byte === 0x0d || byte === 0x0a) return finish();
        // Backspace or DEL takes back the last character (a whole UTF-8 sequence).
        if (byte === 0x7f || byte === 0x08) {
          let end = typed.length - 1;
          while (end > 0 && (typed[end]! & 0xc0) === 0x80) end--;
          typed = typed.subarray(0, Math.max(end, 0));
        } else typed = Buffer.concat([typed, Buffer.of(byte)]);
      }
    };
    input.on("data", onData);
  });
}

/** Writes the secret where the daemon keeps them (ProcessSecretsController's format); a cluster's secrets need its daemon. */
export async function storeSecretWithoutDaemon(stateDir: string, id: string, contents: Buffer): Promise<void> {
  const paths = statePaths(stateDir);
  const desired = await new DesiredStateStore(paths.desired).load();
  if (desired?.backend === "kubernetes") {
    throw new CliError(
      `no corral daemon is running for ${stateDir}: the secrets of a cluster are set through it (start one with \`corral up\`)`,
      EXIT.noDaemon,
    );
  }
  await mkdir(paths.root, { recursive: true, mode: STATE_DIR_MODE });
  const store = await ProcessSecretsController.create(paths.secrets);
  await store.ensure(id, contents);
}
