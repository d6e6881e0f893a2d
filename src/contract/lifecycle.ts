// Lifecycle hooks, stop commands and forking servers: the fields every layer
// (corral.yaml, the desired state, the contract's ServiceConfig) shares, in
// one set of schemas, since their shape is plain JSON in all three.
import { z } from "../util/zod.js";
import { SERVICE_DEFAULTS } from "./defaults.js";
import { absolutePath, positiveInt } from "./rules.js";

/** A command: an argv list (run as is) or a shell string (run by /bin/sh -c), as compose's `command`. */
export type HookCommand = string | string[];

/** One hook: a command, with how long it may take before it is killed (and counts as failed). */
export interface LifecycleHook {
  command: HookCommand;
  timeoutMs?: number;
}

/**
 * Commands run around a process's life, with the service's env, working
 * directory, user and cgroup; their output goes to the process's log, their
 * result to the event stream.
 */
export interface LifecycleHooks {
  /** Before each launch; a failing one fails the start (the restart policy and its back-off take over). */
  preStart?: HookCommand | LifecycleHook;
  /** Once the process runs; the process is not online before it succeeded, and a failing one kills it (as Kubernetes does). */
  postStart?: HookCommand | LifecycleHook;
  /** Before the stop signal, when corral stops the process (the drain step). */
  preStop?: HookCommand | LifecycleHook;
  /** Once the process has ended, whatever ended it. */
  postStop?: HookCommand | LifecycleHook;
}

export const HOOK_NAMES = ["preStart", "postStart", "preStop", "postStop"] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** A hook in its long form, its timeout filled in. */
export function normalizeHook(hook: HookCommand | LifecycleHook): Required<LifecycleHook> {
  if (typeof hook === "string" || Array.isArray(hook)) return { command: hook, timeoutMs: SERVICE_DEFAULTS.hookTimeoutMs };
  return { command: hook.command, timeoutMs: hook.timeoutMs ?? SERVICE_DEFAULTS.hookTimeoutMs };
}

/** A server stopped by a command (`pg_ctl stop`, `redis-cli shutdown`); the stop signal follows after the grace period if it still runs. */
export interface StopCommand {
  command: HookCommand;
}

const COMMAND_RULE = "must be a shell string or a non-empty list of strings (an argv)";
export const hookCommandSchema = z.union(
  [
    z.string({ error: COMMAND_RULE }).min(1, { error: "must not be empty" }),
    z.array(z.string({ error: "must be a string" }), { error: COMMAND_RULE }).min(1, { error: "must name a command" }),
  ],
  { error: COMMAND_RULE },
);

export const lifecycleHookSchema = z.union(
  [
    hookCommandSchema,
    z
      .object(
        {
          command: hookCommandSchema.describe("A shell string (run by /bin/sh -c) or an argv list."),
          timeoutMs: positiveInt
            .optional()
            .describe(`How long the hook may run before it is killed (default ${SERVICE_DEFAULTS.hookTimeoutMs}).`),
        },
        { error: "must be a command or { command, timeoutMs }" },
      )
      .strict(),
  ],
  { error: "must be a command (a shell string or an argv list) or { command, timeoutMs }" },
);

export const lifecycleHooksSchema = z
  .object(
    {
      preStart: lifecycleHookSchema.optional().describe("Runs before each start; a failure fails the start (restart policy, back-off)."),
      postStart: lifecycleHookSchema
        .optional()
        .describe("Runs once the process started; online waits for it, a failure kills the process."),
      preStop: lifecycleHookSchema.optional().describe("Runs before the stop signal (the drain step)."),
      postStop: lifecycleHookSchema.optional().describe("Runs once the process has ended."),
    },
    { error: "must be a mapping of preStart, postStart, preStop, postStop" },
  )
  .strict();

export const stopCommandSchema = z
  .object(
    { command: hookCommandSchema.describe("Stops the server; the stop signal follows after the grace period if it still runs.") },
    {
      error: "must be { command }",
    },
  )
  .strict();

export const pidFileSchema = absolutePath;

/** The argv a hook command runs: a shell string goes through /bin/sh -c. */
export function hookArgv(command: HookCommand): string[] {
  return typeof command === "string" ? ["/bin/sh", "-c", command] : [...command];
}
