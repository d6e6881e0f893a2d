// Lifecycle hooks on Kubernetes: postStart and preStop become the container's
// exec handlers (the kubelet runs them in the container, with its env); a stop
// command is a preStop handler too (the kubelet sends the stop signal once it
// returns, within terminationGracePeriodSeconds); preStart becomes an init
// container of the service's own image, run before the container on every pod
// start. Kubernetes has no post-stop hook, no per-hook timeout (the grace
// period bounds preStop), and no forking servers (a container's main process is the server).
import type { V1Container, V1Lifecycle } from "@kubernetes/client-node";
import { ValidationError } from "../contract/errors.js";
import { hookArgv } from "../contract/lifecycle.js";
import type { NormalizedServiceConfig } from "../contract/validation.js";

/** The init container that runs preStart. */
export const PRE_START_CONTAINER_NAME = "pre-start";

/** What the process backend alone can do; refused with the field's name. */
export function checkLifecycleForKubernetes(config: NormalizedServiceConfig): void {
  if (config.hooks.postStop) throw new ValidationError("hooks.postStop", "is for the process backend: Kubernetes has no post-stop hook");
  if (config.forking || config.pidFile !== undefined)
    throw new ValidationError(
      config.pidFile !== undefined ? "pidFile" : "forking",
      "is for the process backend: a container's main process is its server",
    );
}

function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The container's lifecycle handlers (stopSignal aside), or undefined when there are none. */
export function renderLifecycle(config: NormalizedServiceConfig): V1Lifecycle | undefined {
  const lifecycle: V1Lifecycle = {};
  const { postStart, preStop } = config.hooks;
  if (postStart) lifecycle.postStart = { exec: { command: hookArgv(postStart.command) } };
  const stop = config.stop ? hookArgv(config.stop.command) : undefined;
  const drain = preStop ? hookArgv(preStop.command) : undefined;
  // One preStop handler: the drain step, then the stop command (the process backend's order).
  const command = drain && stop ? ["/bin/sh", "-c", `${drain.map(quote).join(" ")}; ${stop.map(quote).join(" ")}`] : (drain ?? stop);
  if (command) lifecycle.preStop = { exec: { command } };
  return Object.keys(lifecycle).length > 0 ? lifecycle : undefined;
}

/** preStart as an init container: the service's image, env and mounts, the hook as its command. */
export function renderPreStart(config: NormalizedServiceConfig, container: V1Container): V1Container | undefined {
  const hook = config.hooks.preStart;
  if (!hook) return undefined;
  const init: V1Container = { name: PRE_START_CONTAINER_NAME, image: container.image!, command: hookArgv(hook.command) };
  for (const key of ["imagePullPolicy", "env", "resources", "securityContext", "volumeMounts"] as const) {
    if (container[key] !== undefined) Object.assign(init, { [key]: container[key] });
  }
  return init;
}
