// The shape of corral.yaml, as written (before defaults and path resolution).
// One schema serves validation and the editors' JSON Schema, so they cannot
// drift apart. Checks that need more than one field (ports named by readiness
// or %P:, dependsOn targets, cycles) and the file system live in checks.ts.
import { z } from "zod";
import { ValidationError } from "../contract/errors.js";
import { CpuLimit, DiskLimit, MemoryLimit } from "../contract/limits.js";
import { ID_MAX_LENGTH, ID_PATTERN } from "../contract/validation.js";
import { DURATION_PATTERN, DURATION_RULE } from "./durations.js";
import { SIGNAL_RULE, normalizeSignal } from "./signals.js";

export const ID_RULE = `must match ${ID_PATTERN.source} and be at most ${ID_MAX_LENGTH} characters`;
const POSITIVE_INT = "must be a positive integer";

const id = z.string({ error: ID_RULE }).max(ID_MAX_LENGTH, { error: ID_RULE }).regex(ID_PATTERN, { error: ID_RULE });
const positiveInt = z.number({ error: POSITIVE_INT }).int({ error: POSITIVE_INT }).min(1, { error: POSITIVE_INT });
const nonNegativeInt = (rule: string) => z.number({ error: rule }).int({ error: rule }).min(0, { error: rule });
const nonEmptyString = (what: string) => z.string({ error: `must be ${what}` }).min(1, { error: "must not be empty" });

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

const port = z.union(
  [
    id,
    z
      .object({
        name: id,
        portHint: z
          .number({ error: "must be a port number (1-65535)" })
          .int({ error: "must be a port number (1-65535)" })
          .min(1, { error: "must be a port number (1-65535)" })
          .max(65535, { error: "must be a port number (1-65535)" })
          .optional(),
      })
      .strict(),
  ],
  { error: "must be a port name or { name, portHint }" },
);

const readiness = z
  .object(
    {
      socket: id.optional().describe("Ready once the process accepts connections on this port's socket."),
      http: z
        .object({
          port: id,
          path: z.string({ error: "must be a string" }).regex(/^\//, { error: 'must start with "/"' }),
        })
        .strict()
        .optional()
        .describe("Ready once GET <path> on this port answers 2xx."),
      exec: z
        .array(z.string({ error: "must be a string" }), { error: "must be a list of strings (an argv)" })
        .min(1, { error: "must name a command" })
        .optional()
        .describe("Ready once this command exits 0."),
      periodMs: positiveInt.optional().describe("Between probes (default 1000)."),
      timeoutMs: positiveInt.optional().describe("Per probe (default 1000)."),
      failureThreshold: positiveInt.optional().describe("Failed probes in a row before the process counts as not ready (default 3)."),
    },
    { error: "must be a mapping with one of socket, http or exec" },
  )
  .strict()
  .superRefine((r, ctx) => {
    if ([r.socket, r.http, r.exec].filter((x) => x !== undefined).length !== 1) {
      ctx.addIssue({ code: "custom", message: "must have exactly one of socket, http or exec" });
    }
  });

const fraction = "must be a number between 0 and 1";
const restartBackoff = z
  .object(
    {
      initialMs: nonNegativeInt("must be a whole number of milliseconds").optional(),
      maxMs: nonNegativeInt("must be a whole number of milliseconds").optional(),
      multiplier: z.number({ error: "must be a number of at least 1" }).min(1, { error: "must be a number of at least 1" }).optional(),
      jitter: z.number({ error: fraction }).min(0, { error: fraction }).max(1, { error: fraction }).optional(),
      resetAfterMs: nonNegativeInt("must be a whole number of milliseconds").optional(),
    },
    { error: "must be a mapping" },
  )
  .strict();

export const DEPENDENCY_CONDITIONS = ["ready", "started", "completed"] as const;

const dependsOn = z.union(
  [
    z.array(id, { error: "must be a list of service ids" }),
    z.record(id, z.enum(DEPENDENCY_CONDITIONS, { error: `must be one of ${DEPENDENCY_CONDITIONS.join(", ")}` })),
  ],
  { error: "must be a list of service ids or a mapping of service id to ready, started or completed" },
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
        .array(z.union([z.string(), z.number()], { error: "must be a string or a number" }), { error: "must be a list" })
        .optional()
        .describe("Arguments. %P:<port> is the process's listen address for that port, %N is <namespace>-<service>, %I the process index."),
      ports: z
        .array(port, { error: "must be a list of port names or { name, portHint }" })
        .superRefine((ports, ctx) => {
          const seen = new Set<string>();
          for (const [i, p] of ports.entries()) {
            const name = typeof p === "string" ? p : p.name;
            if (seen.has(name)) ctx.addIssue({ code: "custom", path: [i], message: `duplicate port name "${name}"` });
            seen.add(name);
          }
        })
        .optional()
        .describe("Named ports; each process gets its own address per port."),
      scale: positiveInt.optional().describe("Number of processes (default 1)."),
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
        .describe("A scratch directory per process; a size also limits it."),
      env: z
        .record(
          z.string().regex(/^[^=\0]+$/, { error: "environment variable names must be non-empty and contain neither '=' nor NUL" }),
          scalar,
          { error: "must be a mapping of name to value" },
        )
        .optional()
        .describe("Environment variables; these win over envFile."),
      envFile: z
        .union([nonEmptyString("a path"), z.array(nonEmptyString("a path"), { error: "must be a list of paths" })], {
          error: "must be a path or a list of paths",
        })
        .optional()
        .describe("KEY=VALUE file(s) relative to this file; later files win, env wins over all."),
      workingDirectory: nonEmptyString("a path")
        .optional()
        .describe("Where the processes run, relative to this file (default: this file's folder)."),
      labels: z
        .record(z.string(), scalar, { error: "must be a mapping of label to value" })
        .optional()
        .describe("Labels, also exported to Prometheus discovery."),
      readiness: readiness.optional().describe("When a process counts as ready (online). Exactly one of socket, http or exec."),
      restart: z
        .enum(["always", "on-failure", "never"], { error: "must be one of always, on-failure, never" })
        .optional()
        .describe("When an exited process is started again (default always)."),
      restartBackoff: restartBackoff.optional().describe("Overrides the daemon's restart back-off for this service."),
      stopSignal: z
        .string({ error: SIGNAL_RULE })
        .refine((s) => normalizeSignal(s) !== undefined, { error: SIGNAL_RULE })
        .optional()
        .describe("Signal that asks a process to stop (default SIGTERM)."),
      stopGracePeriod: z
        .union([z.string().regex(DURATION_PATTERN, { error: DURATION_RULE }), nonNegativeInt(DURATION_RULE)], { error: DURATION_RULE })
        .optional()
        .describe('How long a process may take to stop before it is killed: "10s", "500ms", "1m", or milliseconds (default 10s).'),
      dependsOn: dependsOn
        .optional()
        .describe(
          "Services to wait for before starting (and to stop after): a list (meaning ready) or { service: ready | started | completed }.",
        ),
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
      services: z.record(id, serviceSchema, { error: "must be a mapping of service id to service" }).describe("Services by id."),
    },
    { error: "must be a mapping with a services: key" },
  )
  .strict();

export type CorralFile = z.infer<typeof corralFileSchema>;
export type ServiceEntry = z.infer<typeof serviceSchema>;
