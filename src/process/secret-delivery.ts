// What one process gets of its service's secrets, at each launch: the files
// in its secrets directory and the variables of `secretEnv`, read fresh from
// the orchestrator's secrets, and the stamp of exactly what was delivered (the
// spec with the digest of the values read), so the PID record says which
// values the process runs with.
import type { LaunchSpec, SpecStamp } from "./launch-spec.js";
import { specHash } from "./launch-spec.js";
import { type FileOwner, removeSecretFiles, writeSecretFiles } from "./secret-files.js";
import type { SecretSource } from "./secret-source.js";

export interface DeliveredSecrets {
  /** Variable name → the secret's contents: added to the process's environment, never to its spec. */
  env: Record<string, string>;
  stamp: SpecStamp;
}

/** Whether a spec gets any secrets (else there is nothing to deliver). */
export function usesSecrets(spec: LaunchSpec): boolean {
  return spec.secretsDigest !== undefined;
}

export class SecretDelivery {
  constructor(
    private readonly source: SecretSource,
    private readonly spec: LaunchSpec,
    /** The scale the spec was built for, as its stamp records it. */
    private readonly scale: number,
    /** Who owns the files: the service's user; undefined where it has none (the orchestrator's user then). Resolved at launch. */
    private readonly owner: () => FileOwner | undefined,
  ) {}

  /** Reads every secret the process gets and writes its files; throws, naming the secret (never its value), when one is not set. */
  async deliver(): Promise<DeliveredSecrets> {
    const { secretFiles = [], secretEnv = {}, secretsDirectory } = this.spec;
    const ids = [...new Set([...secretFiles, ...Object.values(secretEnv)])].sort();
    const values = await this.source.read(ids);
    const missing = ids.filter((id) => values.get(id) === null);
    if (missing.length > 0) {
      const names = missing.map((id) => JSON.stringify(id)).join(", ");
      throw new Error(`secret${missing.length > 1 ? "s" : ""} ${names} ${missing.length > 1 ? "are" : "is"} not set`);
    }
    const env = Object.fromEntries(Object.entries(secretEnv).map(([name, id]) => [name, asVariable(name, id, values.get(id)!)]));
    if (secretsDirectory !== undefined) {
      await writeSecretFiles(secretsDirectory, new Map(secretFiles.map((id) => [id, values.get(id)!])), this.owner());
    }
    const digest = await this.source.digest(values);
    return { env, stamp: { specHash: specHash({ ...this.spec, secretsDigest: digest }), scale: this.scale } };
  }

  /** Removes the process's secret files (once it is gone). */
  async remove(): Promise<void> {
    if (this.spec.secretsDirectory !== undefined) await removeSecretFiles(this.spec.secretsDirectory);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A secret as an environment variable's value: UTF-8 text without NUL. Checked
 * here because spawn's own refusal would quote the value in its message.
 */
function asVariable(name: string, id: string, bytes: Uint8Array): string {
  let text: string | undefined;
  try {
    text = utf8.decode(bytes);
  } catch {
    text = undefined; // reported below, without the bytes
  }
  if (text === undefined || text.includes("\0")) {
    throw new Error(`secret "${id}" cannot be the variable ${name}: it is not UTF-8 text without NUL bytes (deliver it as a file instead)`);
  }
  return text;
}
