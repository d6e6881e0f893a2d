// The figures of one service address (balancer.ts), in a file of their own
// with no imports, so the dashboard's code can share the type.

/** What a service address has done since it started listening. */
export interface EdgeStats {
  /** Connections relayed to a process right now. */
  active: number;
  /** Connections accepted. */
  total: number;
  /** Bytes from clients to processes, of connections that have ended. */
  bytesIn: number;
  /** Bytes from processes to clients, of connections that have ended. */
  bytesOut: number;
  /** Connects that failed (refused, no socket, accept queue full) and were tried again, on another process where one was ready. */
  retries: number;
  /** Connects that failed, and relayed connections that ended in an error. */
  backendErrors: number;
  /** Connections that were still open on a process when it was taken out of rotation to stop. */
  drained: number;
  /** Connections closed without a process: none was ready (or every one refused) for waitForBackendMs. */
  failed: number;
}
