import type { SecretsController, SecretsReader } from "../contract/types.js";
import { validateId } from "../contract/validation.js";
import { SecretNotFoundError, ValidationError } from "../contract/errors.js";
import type { KubeClient } from "./client.js";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, SECRET_DATA_KEY, SECRET_ID_LABEL, labelSelectorString, secretName } from "./names.js";

/** Secrets as Kubernetes Secrets named "<prefix>corral-secret-<id>", the value under data key "contents". */
export class KubernetesSecretsController implements SecretsController {
  readonly #reader: SecretsReader;

  constructor(
    private readonly client: KubeClient,
    private readonly namePrefix: string,
  ) {
    this.#reader = {
      read: (id) => this.#read(id),
      readString: async (id) => new TextDecoder().decode(await this.#read(id)),
    };
  }

  async ensure(id: string, contents: Uint8Array): Promise<void> {
    validateId("secret id", id);
    if (!(contents instanceof Uint8Array)) throw new ValidationError("contents", "must be a Uint8Array", contents);
    await this.client.applySecret({
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: secretName(this.namePrefix, id),
        namespace: this.client.namespace,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [SECRET_ID_LABEL]: id },
      },
      type: "Opaque",
      data: { [SECRET_DATA_KEY]: Buffer.from(contents.buffer, contents.byteOffset, contents.byteLength).toString("base64") },
    });
  }

  async delete(id: string): Promise<void> {
    validateId("secret id", id);
    await this.client.deleteSecret(secretName(this.namePrefix, id));
  }

  async list(): Promise<string[]> {
    const secrets = await this.client.listSecrets(labelSelectorString({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE }));
    const ids: string[] = [];
    for (const secret of secrets) {
      const id = secret.metadata?.labels?.[SECRET_ID_LABEL];
      // Another environment's secrets share the labels but not the name prefix.
      if (id !== undefined && secret.metadata?.name === secretName(this.namePrefix, id)) ids.push(id);
    }
    return ids.sort();
  }

  reader(): SecretsReader {
    return this.#reader;
  }

  async #read(id: string): Promise<Uint8Array> {
    validateId("secret id", id);
    const secret = await this.client.getSecret(secretName(this.namePrefix, id));
    const data = secret?.data?.[SECRET_DATA_KEY];
    if (data === undefined) throw new SecretNotFoundError(id);
    return new Uint8Array(Buffer.from(data, "base64"));
  }
}
