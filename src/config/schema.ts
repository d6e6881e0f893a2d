// The shape of corral.yaml, as written (before defaults and path resolution).
// One schema serves validation and the editors' JSON Schema, so they cannot
// drift apart. Checks that need more than one field (ports named by readiness
// or %P:, dependsOn targets, cycles) and the file system live in build.ts; the
// rules of single fields are the contract's (contract/rules.ts).
import { z } from "../util/zod.js";
import { SERVICE_DEFAULTS } from "../contract/defaults.js";
import { ValidationError } from "../contract/errors.js";
import { CpuLimit, DiskLimit, MemoryLimit } from "../contract/limits.js";
import {
  argString,
  SIGNAL_RULE,
  accountSchema,
  balanceSchema,
  envNameSchema,
  idSchema as id,
  labelKeySchema,
  nonEmptyString,
  nonNegativeInt,
  portSchema,
  scaleSchema,
  readinessSchema,
  restartBackoffSchema,
  secretIdsSchema,
  uniquePortNames,
  volumeNamesSchema,
} from "../contract/rules.js";
import { lifecycleHooksSchema, stopCommandSchema } from "../contract/lifecycle.js";
import { metricsTargetSchema } from "../contract/metrics-target.js";
import { DEPENDENCY_CONDITIONS } from "./desired-state.js";
import { watchSchema } from "./watch-rules.js";
import { DURATION_PATTERN, DURATION_RULE } from "./durations.js";
import { livenessSchema, startupSchema } from "../contract/probe-rules.js";
import { restartSchema } from "./restart.js";
import { normalizeSignal } from "./signals.js";

/** YAML writes `LOG_LEVEL: 3` and `DEBUG: true`; the environment only has strings. */
const scalar = z.union([z.string(), z.number(), z.boolean()], { error: "must be a string, number or boolean" });

function limit(kind: { parse(s: string): unknown }, example: string, what: string) {
  return z.union([z.string(), z.number()], { error: `must be ${what} such as "${example}"` }).superRefine((value, ctx) => {
    try {
      kind.parse(String(value));
    } catch (error) {
      ctx.addIssue({ code: "custom", message: error instanceof ValidationError ? error.rule : String(error) });
    }
  });
}

/** An env value from a secret: `PGPASSWORD: { secret: db-password }`. */
export const secretReference = z
  .object(
    { secret: id.describe("The id of the secret (corral secrets set <id>) whose contents the variable carries.") },
    {
      error: "must be { secret: <id> }",
    },
  )
  .strict();
const envValue = z.union([z.string(), z.number(), z.boolean(), secretReference], {
  error: "must be a string, number, boolean or { secret: <id> }",
});

const port = z.union([id, portSchema], { error: "must be a port name or { name, portHint, socketDir, socketFile, expose }" });

const dependsOn = z.union(
  [
    z.array(id, { error: "must be a list of service ids" }),
    z.record(id, z.enum(DEPENDENCY_CONDITIONS, { error: `must be one of ${DEPENDENCY_CONDITIONS.join(", ")}` })),
  ],
  { error: "must be a list of service ids or a mapping of service id to ready, started or completed" },
);

/** `extends: base` or `extends: { service: base, file: common.yaml }`. */
export const extendsSchema = z.union(
  [
    id,
    z
      .object(
        {
          service: id.describe("The service to start from."),
          file: nonEmptyString("a path").optional().describe("The file it is in, relative to this one (default: this file)."),
        },
        { error: "must be { service: <id>, file?: <path> }" },
      )
      .strict(),
  ],
  { error: "must be a service id or { service: <id>, file?: <path> }" },
);

export const serviceSchema = z
  .object(
    {
      command: nonEmptyString("a path or a program name")
        .optional()
        .describe("A path relative to this file, an absolute path, or a name looked up on PATH (required with backend: process)."),
      image: nonEmptyString("a container image")
        .optional()
        .describe("The container image (required with backend: kubernetes, where it replaces command)."),
      args: z
        .array(z.union([argString, z.number()], { error: "must be a string or a number" }), { error: "must be a list" })
        .optional()
        .describe(
          "Arguments. %P:<port> is the process's listen address for that port, %D:<port> its socket directory (a port with socketDir), %A:<port> the service address (balanced over the ready processes), %V:<volume> a volume's directory, %S the scratch directory (disk), %C the directory of its secret files (secrets), %N is <namespace>-<service>, %I the process index.",
        ),
      shell: nonEmptyString("a command line")
        .optional()
        .describe(
          "Instead of command and args: a command line run by /bin/sh -c (a simple command is exec'd, so the process is the program); placeholders as in args, their values shell-quoted.",
        ),
      ports: z
        .array(port, { error: "must be a list of port names or { name, portHint, socketDir, socketFile, expose }" })
        .superRefine(uniquePortNames((p) => (typeof p === "string" ? p : p.name)))
        .optional()
        .describe(
          "Named ports; each process gets its own address per port, and the service one address per port that balances over its ready processes (%A:<port>, corral port).",
        ),
      expose: z
        .array(id, { error: "must be a list of port names" })
        .optional()
        .describe("Ports whose service address also listens on TCP (loopback), as expose: true on the port does."),
      drainMs: z
        .union([z.string().regex(DURATION_PATTERN, { error: DURATION_RULE }), nonNegativeInt(DURATION_RULE)], { error: DURATION_RULE })
        .optional()
        .describe(
          `How long a process leaving the set (restart, scale-down, rolling change) keeps its connections through the service address before preStop and the stop signal; it is out of rotation meanwhile (default ${SERVICE_DEFAULTS.drainMs / 1000}s).`,
        ),
      balance: balanceSchema
        .optional()
        .describe(`How the service address picks a ready process for a new connection (default ${SERVICE_DEFAULTS.balance}).`),
      scale: scaleSchema.optional().describe(`Number of processes (default ${SERVICE_DEFAULTS.scale}; 0 keeps the service stopped).`),
      memory: limit(MemoryLimit, "512MiB", "a byte size").optional().describe('Memory limit, e.g. "512MiB".'),
      cpu: limit(CpuLimit, "1.5", "a number of cores").optional().describe('CPU limit in cores ("1.5") or millicores ("250m").'),
      disk: z
        .union([z.boolean(), z.string(), z.number()], { error: 'must be true, false or a size such as "10GiB"' })
        .superRefine((value, ctx) => {
          if (typeof value === "boolean") return;
          try {
            DiskLimit.parse(String(value));
          } catch (error) {
            ctx.addIssue({ code: "custom", message: error instanceof ValidationError ? error.rule : String(error) });
          }
        })
        .optional()
        .describe("A scratch directory for the service (%S, CORRAL_SCRATCH_DIR); a size also limits it."),
      env: z
        .record(envNameSchema, envValue, { error: "must be a mapping of name to value" })
        .optional()
        .describe("Environment variables; these win over envFile. { secret: <id> } takes the value from a secret."),
      secrets: secretIdsSchema
        .optional()
        .describe(
          "Secrets (ids) delivered as files <dir>/<id>, mode 0400, readable only by the service's user; %C and CORRAL_SECRETS_DIR name <dir>.",
        ),
      envFile: z
        .union([nonEmptyString("a path"), z.array(nonEmptyString("a path"), { error: "must be a list of paths" })], {
          error: "must be a path or a list of paths",
        })
        .optional()
        .describe("KEY=VALUE file(s) relative to this file; later files win, env wins over all."),
      workingDirectory: nonEmptyString("a path")
        .optional()
        .describe("Where the processes run, relative to this file (default: this file's folder)."),
      user: accountSchema
        .optional()
        .describe("Run the processes as this user (a name or a uid); corral must run as root. backend: kubernetes: a uid (runAsUser)."),
      group: accountSchema.optional().describe("The processes' group (a name or a gid; default: the user's primary group)."),
      volumes: volumeNamesSchema
        .optional()
        .describe(
          "Volumes of this file the service uses without naming them in args (%V:<volume> in args is enough); each is in CORRAL_VOLUME_<NAME>.",
        ),
      labels: z
        .record(labelKeySchema, scalar, { error: "must be a mapping of label to value" })
        .optional()
        .describe("Labels, also exported to Prometheus discovery."),
      metrics: metricsTargetSchema
        .optional()
        .describe(
          "The port (by name) and path Prometheus scrapes: the daemon's discovery lists only services that set this, with __metrics_path__.",
        ),
      readiness: readinessSchema
        .optional()
        .describe("When a process counts as ready (online). Exactly one of socket, http, exec or logLine."),
      liveness: livenessSchema
        .optional()
        .describe("Restarts a process that stops answering (offline liveness-failed). Exactly one of socket, http or exec."),
      startup: startupSchema
        .optional()
        .describe(
          "Probed until it first passes (readiness and liveness wait); a process that does not pass within deadlineMs is restarted (offline startup-timeout).",
        ),
      restart: restartSchema
        .optional()
        .describe(
          `When an exited process is started again (default ${SERVICE_DEFAULTS.restartPolicy}), or { policy, maxRestarts, window, backoff } with the crash-loop breaker.`,
        ),
      restartBackoff: restartBackoffSchema.optional().describe("Overrides the daemon's restart back-off for this service."),
      stopSignal: z
        .string({ error: SIGNAL_RULE })
        .refine((s) => normalizeSignal(s) !== undefined, { error: SIGNAL_RULE })
        .optional()
        .describe(`Signal that asks a process to stop (default ${SERVICE_DEFAULTS.stopSignal}).`),
      stopGracePeriod: z
        .union([z.string().regex(DURATION_PATTERN, { error: DURATION_RULE }), nonNegativeInt(DURATION_RULE)], { error: DURATION_RULE })
        .optional()
        .describe(
          `How long a process may take to stop before it is killed: "10s", "500ms", "1m", or milliseconds (default ${SERVICE_DEFAULTS.terminationGracePeriodMs / 1000}s).`,
        ),
      hooks: lifecycleHooksSchema
        .optional()
        .describe("Commands run with the service's env, directory, user and cgroup: preStart, postStart, preStop, postStop."),
      stop: stopCommandSchema.optional().describe("Stop the processes with this command; the stop signal follows after stopGracePeriod."),
      forking: z
        .boolean({ error: "must be true or false" })
        .optional()
        .describe("backend: process: the command forks a server and exits; corral supervises the server it left behind."),
      pidFile: nonEmptyString("a path")
        .optional()
        .describe("backend: process: the forking server's PID file, relative to this file (implies forking)."),
      watch: watchSchema
        .optional()
        .describe(
          "corral up (foreground): restart the service, rolling and readiness-gated, when these files change; off with --no-watch.",
        ),
      dependsOn: dependsOn
        .optional()
        .describe(
          "Services to wait for before starting (and to stop after): a list (meaning ready) or { service: ready | started | completed }.",
        ),
      // Composition: which services run, and services built on others.
      profiles: z
        .array(id, { error: "must be a list of profile names" })
        .optional()
        .describe(
          "Run this service only when one of these profiles is enabled (--profile, CORRAL_PROFILES) or it is named on the command line.",
        ),
      disabled: z
        .boolean({ error: "must be true or false" })
        .optional()
        .describe("true: the service is not run, unless it is named on the command line (corral up <service>)."),
      extends: extendsSchema
        .optional()
        .describe("Start from another service's fields (in this file, or in file:); this service's own fields are merged over them."),
    },
    { error: "must be a mapping of service fields" },
  )
  .strict();

export const corralFileSchema = z
  .object(
    {
      environment: id.optional().describe("Keeps this file's processes apart from others on the machine (default: the folder name)."),
      namespace: id.optional().describe("Namespace of the services (default: default)."),
      backend: z
        .enum(["process", "kubernetes"], { error: "must be process or kubernetes" })
        .optional()
        .describe("Where the services run: local processes (default) or a Kubernetes cluster."),
      kubeconfig: nonEmptyString("a path")
        .optional()
        .describe("backend: kubernetes: the kubeconfig, relative to this file (default: $KUBECONFIG, ~/.kube/config, else in-cluster)."),
      kubernetesNamespace: id.optional().describe("backend: kubernetes: the Kubernetes namespace (default: the kubeconfig context's)."),
      volumes: z
        .record(id, z.object({}, { error: "must be {} (a volume has no options yet)" }).strict().nullable(), {
          error: "must be a mapping of volume name to {}",
        })
        .optional()
        .describe(
          "Named volumes: directories under the state dir that services share (%V:<name>), kept by corral down, removed by corral down --volumes.",
        ),
      services: z.record(id, serviceSchema, { error: "must be a mapping of service id to service" }).describe("Services by id."),
    },
    { error: "must be a mapping with a services: key" },
  )
  .strict();

export type CorralFile = z.infer<typeof corralFileSchema>;
export type ServiceEntry = z.infer<typeof serviceSchema>;
