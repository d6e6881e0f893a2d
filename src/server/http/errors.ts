// The one mapping of errors to HTTP answers. Coded errors say what went wrong,
// so the status follows from the class: bad input 400 (naming the field and
// the rule), unknown things 404, a stopped rollout 409 with where it stopped,
// a refused resource 507 (disk full) or 503, as are a closed orchestrator and
// an interrupted apply. Anything else is a bug, answered 500 and reported to
// the daemon's log.
import type { FastifyInstance } from "fastify";
import {
  ApplyInterruptedError,
  CorralError,
  NotFoundError,
  OrchestratorClosedError,
  ResourceError,
  RolloutError,
  ValidationError,
} from "../../contract/errors.js";
import { reportSurvivable } from "../../util/diagnostics.js";
import { errnoCode } from "../../util/errno.js";
import type { ErrorBody } from "../wire.js";

/** Errors of the environment, not of corral or the request. */
const RESOURCE_ERRNOS = new Set(["ENOSPC", "EDQUOT", "EMFILE", "ENFILE", "EAGAIN", "ENOMEM"]);

export interface ErrorReply {
  status: number;
  body: ErrorBody;
}

/** The status of fastify's own refusals of a request (not JSON, too large, wrong media type); undefined for anything else. */
function refusalStatus(error: unknown): number | undefined {
  if (!(error instanceof Error) || !("statusCode" in error) || typeof error.statusCode !== "number") return undefined;
  return error.statusCode < 500 ? error.statusCode : undefined;
}

/** The status and body for an error a handler (or fastify itself) threw. */
export function errorReply(error: unknown): ErrorReply {
  if (error instanceof ValidationError)
    return { status: 400, body: { error: error.message, field: error.field, rule: error.rule, code: error.code } };
  if (error instanceof NotFoundError) return { status: 404, body: { error: error.message, code: error.code } };
  if (error instanceof RolloutError)
    return { status: 409, body: { error: error.message, code: error.code, service: error.serviceId, process: error.processIndex } };
  if (error instanceof ResourceError)
    return { status: error.errno === "ENOSPC" || error.errno === "EDQUOT" ? 507 : 503, body: { error: error.message, code: error.code } };
  if (error instanceof OrchestratorClosedError || error instanceof ApplyInterruptedError)
    return { status: 503, body: { error: error.message, code: error.code } };
  if (error instanceof CorralError)
    return { status: error.code === "CORRAL_ERR_TIMEOUT" ? 504 : 409, body: { error: error.message, code: error.code } };
  // The machine refused a resource to this one operation (a full disk, no descriptors left): 507 or 503, never a 500.
  const errno = errnoCode(error);
  if (errno !== undefined && RESOURCE_ERRNOS.has(errno))
    return errorReply(new ResourceError(error instanceof Error ? error.message : "the operation", errno));
  const refused = refusalStatus(error);
  if (refused !== undefined && error instanceof Error) {
    // A body fastify could not parse is bad input like any other.
    if (refused === 400) return errorReply(new ValidationError("body", error.message));
    return {
      status: refused,
      body: { error: error.message, ...("code" in error && typeof error.code === "string" ? { code: error.code } : {}) },
    };
  }
  return { status: 500, body: { error: error instanceof Error ? error.message : String(error) } };
}

export function handleErrors(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request, reply) => {
    const { status, body } = errorReply(error);
    if (status >= 500 && !(error instanceof CorralError))
      reportSurvivable("server.http", "answer a request", error, { method: request.method, url: request.url });
    return reply.code(status).send(body);
  });
}
