// The program a launcher starts, after dropping to the service's user. Each
// launcher puts its own prefix (the cgroup join, systemd-run) before it, so
// whatever needs root happens first and then setpriv execs the program in
// place: the PID the supervisor watches is the program's own.
import { asUser } from "../users.js";
import type { LaunchRequest } from "./types.js";

export function programAsUser(req: Pick<LaunchRequest, "program" | "args" | "user">): { program: string; args: string[] } {
  return req.user ? asUser(req.user, req.program, req.args) : { program: req.program, args: [...req.args] };
}
