/**
 * @module
 * Errors of the key-value server and its client. Each carries what a caller needs to decide
 * what to do next: whether the request may be retried, and whether a write may have happened.
 */
import { RaftError } from '../core/errors.js';

/** The request itself is wrong (a malformed key, body or parameter, or one too large). */
export class BadRequestError extends RaftError {
  /** 400, or 413 for a body or value over its limit, 404/405 for an unknown route. */
  readonly status: number;

  constructor(message: string, status = 400) {
    super('RAFT_BAD_REQUEST', message);
    this.status = status;
  }
}

/**
 * The client's session is gone (idle past its time to live, or pushed out by newer ones), so
 * the cluster can no longer tell a retry from a new write. When `outcomeUnknown`, the write in
 * question may have been applied before the session expired.
 */
export class SessionExpiredError extends RaftError {
  readonly client: number;
  readonly outcomeUnknown: boolean;

  constructor(client: number, outcomeUnknown: boolean) {
    super(
      'RAFT_SESSION_EXPIRED',
      `client session ${client} expired${outcomeUnknown ? '; the write may or may not have been applied' : ''}`,
    );
    this.client = client;
    this.outcomeUnknown = outcomeUnknown;
  }
}

/** No node could serve the request before the deadline (no leader, or none reachable). */
export class UnavailableError extends RaftError {
  /** What the last attempt ran into. */
  readonly lastError: string;

  constructor(message: string, lastError: string) {
    super('RAFT_UNAVAILABLE', `${message} (last: ${lastError})`);
    this.lastError = lastError;
  }
}

/** The server failed in a way that is not the request's fault (HTTP 500). */
export class ServerError extends RaftError {
  readonly status: number;

  constructor(message: string, status: number) {
    super('RAFT_SERVER_ERROR', message);
    this.status = status;
  }
}

/**
 * The cluster refused who the client is: no token or one it does not know (401), a token whose
 * role does not allow the request (403), or a TLS handshake that failed on a certificate (0).
 * Nothing was done; retrying as is cannot help.
 */
export class AuthRefusedError extends RaftError {
  /** 401, 403, or 0 for TLS. */
  readonly status: number;
  /** The server's code (`unauthenticated`, `invalid-token`, `forbidden`) or `tls`. */
  readonly reason: string;

  constructor(message: string, status: number, reason: string) {
    super('RAFT_AUTH_REFUSED', message);
    this.status = status;
    this.reason = reason;
  }
}
