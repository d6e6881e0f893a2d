// The desired state as the daemon takes it (POST /v1/apply, PUT /v1/services/:id),
// keeps on disk (desired.json) and applies: plain JSON with every path resolved
// and every default filled in. The loader builds it from corral.yaml; an HTTP
// client sends it. Its TypeScript types are inferred from these schemas, so what
// the daemon accepts and what its code assumes cannot differ; the HTTP API
// validates with them and its OpenAPI document is generated from them.
import { z } from "../util/zod.js";
import { INPUT_LIMITS, SERVICE_DEFAULTS } from "../contract/defaults.js";
import { ValidationError } from "../contract/errors.js";
import { CpuLimit, DiskLimit, MemoryLimit } from "../contract/limits.js";
import {
  MILLISECONDS_RULE,
  absolutePath,
  accountSchema,
  envNameSchema,
  ENV_SECRET_OVERLAP_RULE,
  envSecretOverlap,
  envValueSchema,
  idSchema,
  labelKeySchema,
  labelValueSchema,
  nonEmptyString,
  nonNegativeInt,
  portSchema,
  argString,
  balanceSchema,
  scaleSchema,
  readinessSchema,
  restartBackoffSchema,
  restartPolicySchema,
  secretEnvSchema,
  secretIdsSchema,
  signalSchema,
  uniquePortNames,
  validationErrorOf,
  volumeNamesSchema,
} from "../contract/rules.js";
import { livenessSchema, probePortProblems, restartLimitSchema, startupSchema } from "../contract/probe-rules.js";
import { lifecycleHooksSchema, pidFileSchema, stopCommandSchema } from "../contract/lifecycle.js";
import { metricsPortProblem, metricsTargetSchema } from "../contract/metrics-target.js";
import { findCycle } from "./cycle.js";
import { SHELL } from "./shell-command.js";
import { watchEntrySchema } from "./watch-rules.js";
import { checkArgTemplate, checkSecretsTemplate } from "./templates.js";
import { usedVolumes } from "./translate.js";

/** When a dependent service may start: the dependency's processes are started, ready (online), or have completed. */
export const DEPENDENCY_CONDITIONS = ["ready", "started", "completed"] as const;
export const dependencyConditionSchema = z.enum(DEPENDENCY_CONDITIONS, { error: `must be one of ${DEPENDENCY_CONDITIONS.join(", ")}` });

export const backendSchema = z.enum(["process", "kubernetes"], { error: "must be process or kubernetes" });

/** A size or a number of cores, as the string the contract's value type parses. */
function limitString(kind: { parse(s: string): unknown }, what: string) {
  return z.string({ error: `must be ${what}` }).superRefine((value, ctx) => {
    try {
      kind.parse(value);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: error instanceof ValidationError ? error.rule : String(error) });
    }
  });
}

export const serviceSpecSchema = z
  .object(
    {
      command: absolutePath.optional().describe("Process backend: absolute path of the program."),
      image: nonEmptyString("a container image").optional().describe("Kubernetes backend: the container image."),
      args: z
        .array(argString, { error: "must be a list of strings" })
        .default([])
        .describe(
          "%P:<port> is the process's listen address for that port, %D:<port> its socket directory (socketDir ports), %V:<volume> a volume's directory, %S the scratch directory, %C the directory of its secret files, %N <namespace>-<service>, %I the process index.",
        ),
      shell: nonEmptyString("a command line")
        .optional()
        .describe("Process backend: a command line run by /bin/sh -c (command is /bin/sh, args empty); placeholders as in args."),
      ports: z
        .array(portSchema, { error: "must be a list of { name, portHint, socketDir, socketFile, expose, tcpPerProcess }" })
        .superRefine(uniquePortNames((port) => port.name, ["name"]))
        .default([]),
      scale: scaleSchema.default(SERVICE_DEFAULTS.scale).describe("Number of processes."),
      stopped: z
        .boolean({ error: "must be true or false" })
        .optional()
        .describe(
          "Set by corral stop (and scale 0): the service is kept, its processes are not run; scale is what corral start runs again.",
        ),
      memory: limitString(MemoryLimit, 'a byte size such as "512MiB"').optional(),
      cpu: limitString(CpuLimit, 'cores ("1.5") or millicores ("250m")').optional(),
      disk: z
        .union([z.boolean(), limitString(DiskLimit, 'a byte size such as "10GiB"')], {
          error: 'must be true, false or a size such as "10GiB"',
        })
        .optional()
        .describe("A scratch directory; a size also limits it."),
      env: z.record(envNameSchema, envValueSchema, { error: "must be a mapping of name to value" }).default({}),
      secrets: secretIdsSchema.optional().describe("Secrets (ids) delivered as files in the directory %C / CORRAL_SECRETS_DIR names."),
      secretEnv: secretEnvSchema.optional().describe("Variable name → the id of the secret whose contents it carries."),
      workingDirectory: absolutePath.optional(),
      user: accountSchema.optional().describe("Process backend: run as this user (name or uid); Kubernetes: a uid, the pod's runAsUser."),
      group: accountSchema.optional().describe("The group (name or gid; default: the user's primary group)."),
      volumes: volumeNamesSchema
        .optional()
        .describe("Volumes of the state the service uses besides those its args name with %V: (each gets CORRAL_VOLUME_<NAME>)."),
      labels: z.record(labelKeySchema, labelValueSchema, { error: "must be a mapping of label to value" }).default({}),
      metrics: metricsTargetSchema.optional().describe("The port and path Prometheus scrapes; the daemon's discovery lists only these."),
      readiness: readinessSchema.optional(),
      liveness: livenessSchema.optional(),
      startup: startupSchema.optional(),
      restart: restartPolicySchema.optional(),
      restartLimit: restartLimitSchema.optional().describe("The crash-loop breaker: more than maxRestarts failed starts within windowMs."),
      restartBackoff: restartBackoffSchema.optional(),
      stopSignal: signalSchema.optional(),
      stopGracePeriodMs: nonNegativeInt(MILLISECONDS_RULE).optional(),
      drainMs: nonNegativeInt(MILLISECONDS_RULE)
        .optional()
        .describe("How long a leaving process keeps its connections through the service address before it is stopped."),
      balance: balanceSchema.optional().describe("How the service address picks a ready process for a new connection."),
      hooks: lifecycleHooksSchema.optional(),
      stop: stopCommandSchema.optional(),
      forking: z.boolean({ error: "must be true or false" }).optional(),
      pidFile: pidFileSchema.optional().describe("Process backend: the forking server's PID file (implies forking)."),
      watch: z
        .array(watchEntrySchema, { error: "must be a list of { path, action }" })
        .optional()
        .describe("Followed by corral up in the foreground: file changes restart the service (paths absolute)."),
      dependsOn: z
        .record(idSchema, dependencyConditionSchema, { error: "must be a mapping of service id to ready, started or completed" })
        .default({})
        .describe("Start after these services meet their condition; stop before them."),
      restartedAt: z.iso
        .datetime({ error: "must be an ISO 8601 time" })
        .optional()
        .describe("Set by a restart on Kubernetes: a new value rolls every pod."),
    },
    { error: "must be a service spec object" },
  )
  .strict()
  .superRefine((spec, ctx) => {
    const portNames = spec.ports.map((port) => port.name);
    // Which volumes exist is the state's to say: checked there.
    const scope = { ports: spec.ports, scratch: spec.disk !== undefined && spec.disk !== false };
    for (const [i, arg] of spec.args.entries()) {
      const problem = checkArgTemplate(arg, scope);
      if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["args", i], message: problem });
      const secrets = checkSecretsTemplate(arg, spec.secrets ?? []);
      if (secrets !== undefined) ctx.addIssue({ code: "custom", path: ["args", i], message: secrets });
    }
    for (const [name, value] of Object.entries(spec.env)) {
      const problem = checkArgTemplate(value, scope) ?? checkSecretsTemplate(value, spec.secrets ?? []);
      if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["env", name], message: problem });
    }
    if (spec.shell !== undefined) {
      const problem = checkArgTemplate(spec.shell, scope) ?? checkSecretsTemplate(spec.shell, spec.secrets ?? []);
      if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["shell"], message: problem });
      if (spec.args.length > 0)
        ctx.addIssue({ code: "custom", path: ["args"], message: "must be empty with shell (the line is the whole command)" });
      if (spec.command !== undefined && spec.command !== SHELL)
        ctx.addIssue({ code: "custom", path: ["command"], message: `must be ${SHELL} (or absent) with shell` });
    }
    const overlap = envSecretOverlap(spec.env, spec.secretEnv ?? {});
    if (overlap !== undefined) ctx.addIssue({ code: "custom", path: ["secretEnv", overlap], message: ENV_SECRET_OVERLAP_RULE });
    for (const probe of probePortProblems(spec, portNames)) ctx.addIssue({ code: "custom", path: probe.path, message: probe.rule });
    const metrics = metricsPortProblem(spec.metrics, portNames);
    if (metrics !== undefined) ctx.addIssue({ code: "custom", path: ["metrics", "port"], message: metrics });
  });

export const kubernetesTargetSchema = z
  .object(
    {
      kubeconfig: absolutePath.optional().describe("Default: $KUBECONFIG, ~/.kube/config, else in-cluster credentials."),
      namespace: idSchema.optional().describe("The Kubernetes namespace; default: the kubeconfig context's."),
    },
    { error: "must be { kubeconfig, namespace }" },
  )
  .strict();

export const desiredStateSchema = z
  .object(
    {
      environment: idSchema,
      namespace: idSchema,
      backend: backendSchema.optional().describe("Where the services run (default: process)."),
      kubernetes: kubernetesTargetSchema.optional(),
      volumes: z
        .record(idSchema, z.object({}, { error: "must be {}" }).strict(), { error: "must be a mapping of volume name to {}" })
        .optional()
        .describe("Named volumes: directories that outlive the services, kept until removed (corral down --volumes)."),
      services: z.record(idSchema, serviceSpecSchema, { error: "must be a mapping of service id to service spec" }),
    },
    { error: "must be a desired state object" },
  )
  .strict()
  .superRefine((state, ctx) => {
    const ids = Object.keys(state.services);
    const processes = Object.values(state.services).reduce((n, spec) => n + spec.scale, 0);
    if (processes > INPUT_LIMITS.maxProcesses)
      ctx.addIssue({
        code: "custom",
        path: ["services"],
        message: `must add up to at most ${INPUT_LIMITS.maxProcesses} processes (the scales add up to ${processes})`,
      });
    // Which of command and image a backend needs is the daemon's to check, after it has refused a move between backends.
    for (const [id, spec] of Object.entries(state.services)) {
      for (const dependency of Object.keys(spec.dependsOn)) {
        if (Object.hasOwn(state.services, dependency)) continue;
        const message = `names no service of this state (services: ${ids.join(", ")})`;
        ctx.addIssue({ code: "custom", path: ["services", id, "dependsOn", dependency], message });
      }
    }
    const cycle = findCycle(new Map(ids.map((id) => [id, Object.keys(state.services[id]!.dependsOn)])), ids);
    if (cycle) {
      const [from, to] = cycle as [string, string];
      ctx.addIssue({ code: "custom", path: ["services", from, "dependsOn", to], message: `dependency cycle: ${cycle.join(" -> ")}` });
    }
    const declared = Object.keys(state.volumes ?? {});
    for (const [id, spec] of Object.entries(state.services)) {
      for (const volume of usedVolumes(spec)) {
        if (declared.includes(volume)) continue;
        const message = `volume ${volume} is not declared in volumes (${declared.length === 0 ? "none are" : `declared: ${declared.join(", ")}`})`;
        ctx.addIssue({ code: "custom", path: ["services", id, "volumes"], message });
      }
    }
  });

export type DependencyCondition = z.output<typeof dependencyConditionSchema>;
export type Backend = z.output<typeof backendSchema>;
export type KubernetesTarget = z.output<typeof kubernetesTargetSchema>;
export type ServiceSpec = z.output<typeof serviceSpecSchema>;
export type DesiredState = z.output<typeof desiredStateSchema>;

/** A desired state from anywhere outside (a request, desired.json, a library call), checked whole; throws ValidationError. */
export function parseDesiredState(input: unknown): DesiredState {
  const result = desiredStateSchema.safeParse(input);
  if (!result.success) throw validationErrorOf(result.error, "state");
  return result.data;
}
