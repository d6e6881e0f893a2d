// Exit codes scripts can rely on, and the error that carries one. Kept apart
// from context.ts so main.ts can load it without the client or the config loader.

/** Exit codes: 0 ok; 1 the operation failed; 2 bad usage or bad input (nothing changed); 3 no daemon is running. */
export const EXIT = { ok: 0, failed: 1, usage: 2, noDaemon: 3 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}
