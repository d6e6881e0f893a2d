import { rm } from "node:fs/promises";
import { survive } from "../util/diagnostics.js";
import { OrchestratorClosedError, ValidationError } from "../contract/errors.js";
import type { Orchestrator, ServiceEvent } from "../contract/types.js";
import { idSchema } from "../contract/rules.js";
import { validateId } from "../contract/validation.js";
import { type ProcessOrchestratorConfig, type ResolvedProcessConfig, resolveProcessConfig } from "./config.js";
import type { Launcher } from "./launch/types.js";
import { NamespacedProcessOrchestrator } from "./namespace.js";
import { join } from "node:path";
import { listDir, volumePath } from "./run-dir.js";
import { FileSecretsReader, ProcessSecretsController } from "./secrets.js";
import { DIGEST_KEY_FILE, SecretSource } from "./secret-source.js";
import { RememberedPorts } from "./tcp-ports.js";

export type { ProcessOrchestratorConfig, ResolvedProcessConfig } from "./config.js";

/**
 * Runs services as supervised processes on this machine: the embedded
 * default backend of corral, a port of Materialize's process orchestrator.
 */
export class ProcessOrchestrator implements Orchestrator {
  private readonly namespaces = new Map<string, NamespacedProcessOrchestrator>();
  private readonly runDirOwners = new Map<string, string>();
  private closed = false;
  private secrets: ProcessSecretsController | undefined;
  private crashing = false;
  private readonly secretSource: SecretSource;
  private readonly ports: RememberedPorts;

  private constructor(
    /** The config as resolved at create: every default filled in, every directory a real path. */
    readonly config: Readonly<ResolvedProcessConfig>,
    /** How this orchestrator starts processes (chosen once, at create). */
    readonly launcher: Launcher,
  ) {
    // Read where the controller writes, at each launch: a value set a moment ago is the one delivered.
    this.secretSource = new SecretSource(new FileSecretsReader(config.secretsDir), join(config.stateDir, DIGEST_KEY_FILE));
    this.ports = new RememberedPorts(config.stateDir);
  }

  static async create(config: ProcessOrchestratorConfig): Promise<ProcessOrchestrator> {
    const { config: resolved, launcher } = await resolveProcessConfig(config);
    // Empty groups a SIGKILLed predecessor left go now; those with processes stay for adoption.
    await launcher.sweep?.(resolved.hostScope).catch(survive("process.orchestrator", "remove empty cgroups"));
    return new ProcessOrchestrator(resolved, launcher);
  }

  /** Secrets as files in secretsDir (0700), one per id (0600), written atomically. */
  secretsController(): ProcessSecretsController {
    this.secrets ??= new ProcessSecretsController({ secretsDir: this.config.secretsDir });
    return this.secrets;
  }

  namespace(name: string): NamespacedProcessOrchestrator {
    this.assertOpen();
    validateId("namespace", name);
    let namespace = this.namespaces.get(name);
    if (!namespace) {
      namespace = new NamespacedProcessOrchestrator({
        namespace: name,
        config: this.config,
        launcher: this.launcher,
        secrets: this.secretSource,
        ports: this.ports,
        claimRunDir: (fullId, owner) => this.claimRunDir(fullId, owner),
        releaseRunDir: (fullId) => this.runDirOwners.delete(fullId),
        assertOpen: () => this.assertOpen(),
        ...(this.config.propagateCrashes ? { onCrash: (event: ServiceEvent, ns: string) => void this.crash(event, ns) } : {}),
      });
      this.namespaces.set(name, namespace);
    }
    return namespace;
  }

  /** The named volumes that exist in volumeDirectory (whether or not a service uses them now). */
  async listVolumes(): Promise<string[]> {
    const names = await listDir(this.config.volumeDirectory);
    return names.filter((name) => idSchema.safeParse(name).success).sort();
  }

  /** Removes a volume and its data. Refused while a service of this orchestrator uses it; an unknown name is fine. */
  async removeVolume(name: string): Promise<void> {
    this.assertOpen();
    validateId("volume", name);
    for (const [namespace, ns] of this.namespaces) {
      const users = ns.servicesUsingVolume(name);
      if (users.length > 0)
        throw new ValidationError(
          "volume",
          `is used by ${users.length === 1 ? "service" : "services"} ${users.sort().join(", ")} of namespace ${namespace}: drop them first`,
          name,
        );
    }
    await rm(volumePath(this.config.volumeDirectory, name), { recursive: true, force: true });
  }

  private claimRunDir(fullId: string, owner: { namespace: string; id: string }): void {
    const key = `${owner.namespace}/${owner.id}`;
    const current = this.runDirOwners.get(fullId);
    if (current !== undefined && current !== key) {
      const [namespace, id] = current.split("/");
      throw new ValidationError(
        "service id",
        `"${owner.namespace}-${owner.id}" is already the run directory of service "${id}" in namespace "${namespace}"`,
        owner.id,
      );
    }
    this.runDirOwners.set(fullId, key);
  }

  /** Stops every process (or, with leaveRunning, leaves them for a later instance to adopt). */
  async close(opts: { leaveRunning?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const leaveRunning = opts.leaveRunning ?? false;
    await Promise.all([...this.namespaces.values()].map((ns) => ns.close(leaveRunning)));
    // The environment's group tree goes with its last process. Processes left
    // running keep theirs untouched: one just spawned may still be joining its
    // groups, and a group removed under it ends it before it runs.
    if (!leaveRunning) await this.launcher.sweep?.(this.config.hostScope).catch(survive("process.orchestrator", "remove empty cgroups"));
  }

  private async crash(event: ServiceEvent, namespace: string): Promise<void> {
    if (this.crashing) return;
    this.crashing = true;
    process.stderr.write(
      `corral: ${namespace}-${event.serviceId}-${event.processId} crashed (${event.signal}); stopping every process and exiting because propagateCrashes is set\n`,
    );
    try {
      await this.close();
    } finally {
      process.exit(1);
    }
  }

  assertOpen(): void {
    if (this.closed) throw new OrchestratorClosedError();
  }
}
