// What `corral run` and `corral exec` start a command with. Over the Unix
// socket only (mode 0600: only the daemon's own user), since the answer
// carries the values of the service's secrets.
import { ConflictError, UnknownServiceError, ValidationError } from "../../../contract/errors.js";
import { cgroupProcsFiles } from "../../../process/cgroup-of.js";
import type { LaunchTarget } from "../../../process/namespace.js";
import type { DaemonApi } from "../../daemon-api.js";
import type { LaunchSpecAnswer } from "../../wire.js";
import type { Transport } from "../access.js";
import { ROUTES } from "../routes-table.js";
import type { ApiPlugin } from "../zod.js";
import { specOf } from "./services.js";

export const launchRoutes: ApiPlugin<{ daemon: Pick<DaemonApi, "state" | "namespace">; transport: Transport }> = async (
  app,
  { daemon, transport },
) => {
  if (transport !== "unix") {
    for (const route of [ROUTES.runSpec, ROUTES.execSpec])
      app.get(route.url, async (_request, reply) => reply.code(404).send({ error: "only on the Unix socket" }));
    return;
  }
  const target = async (id: string, index: number): Promise<LaunchTarget> => {
    specOf(daemon, id);
    const ns = daemon.namespace;
    if (!ns) throw new UnknownServiceError(id);
    if (!ns.launchSpecOf) throw new ValidationError("service", "corral run and exec are for backend: process (on a cluster: kubectl exec)");
    return ns.launchSpecOf(id, index);
  };
  app.get(ROUTES.runSpec.url, { schema: { params: ROUTES.runSpec.params } }, async (request) =>
    answer(request.params.id, 0, await target(request.params.id, 0), false),
  );
  app.get(ROUTES.execSpec.url, { schema: { params: ROUTES.execSpec.params } }, async (request) => {
    const { id, process: index } = request.params;
    const found = await target(id, index);
    if (found.pid === null) throw new ConflictError(`${id}-${index} is not running (corral ps shows why; corral run starts a one-off)`);
    return answer(id, index, found, true);
  });
};

function answer(service: string, index: number, { spec, pid, secretEnv }: LaunchTarget, running: boolean): LaunchSpecAnswer {
  return {
    service,
    process: index,
    pid,
    command: spec.image,
    args: spec.args,
    env: { ...spec.env, ...secretEnv },
    workingDirectory: spec.workingDirectory ?? null,
    uid: spec.user?.uid ?? null,
    gid: spec.user?.gid ?? null,
    placeholders: {
      fullName:
        spec.env.CORRAL_NAMESPACE && spec.env.CORRAL_SERVICE_ID ? `${spec.env.CORRAL_NAMESPACE}-${spec.env.CORRAL_SERVICE_ID}` : service,
      processIndex: index,
      listenAddrs: spec.listenAddrs,
      socketDirs: spec.socketDirs ?? {},
      volumes: spec.volumes ?? {},
      scratchDirectory: spec.scratchDirectory ?? null,
      secretsDirectory: spec.secretsDirectory ?? null,
    },
    cgroupProcs: running && pid !== null ? cgroupProcsFiles(pid) : [],
  };
}
