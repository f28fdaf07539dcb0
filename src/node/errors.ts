/**
 * @module
 * Errors the node layer raises on top of the core's.
 */
import { RaftError } from '../core/errors.js';

/** The node was stopped (by `stop()`, or because its storage failed) before this finished. */
export class NodeStoppedError extends RaftError {
  /** Why the node stopped, when it was not asked to. */
  readonly reason: Error | null;

  constructor(reason: Error | null) {
    super(
      'RAFT_STOPPED',
      reason === null ? 'the node is stopped' : `the node stopped: ${reason.message}`,
    );
    this.reason = reason;
  }
}

/**
 * A wait ran out. For a proposal, the outcome is unknown: it may still commit. Retry only
 * what is safe to apply twice, or carry a request id the state machine deduplicates.
 */
export class TimeoutError extends RaftError {
  constructor(what: string, ms: number) {
    super('RAFT_TIMEOUT', `${what} timed out after ${ms} ms`);
  }
}

/** The caller's AbortSignal fired. For a proposal, the outcome is unknown, as for a timeout. */
export class AbortedError extends RaftError {
  constructor(what: string) {
    super('RAFT_ABORTED', `${what} was aborted`);
  }
}

/**
 * A committed entry that the state machine could not take: its bytes are not a command, or
 * `apply` threw. Every node sees the same, so the state stays identical everywhere.
 */
export class InvalidCommandError extends RaftError {
  readonly index: number;

  constructor(index: number, detail: string) {
    super('RAFT_INVALID_COMMAND', `entry ${index} was not applied: ${detail}`);
    this.index = index;
  }
}
