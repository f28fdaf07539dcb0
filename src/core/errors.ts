/**
 * @module
 * Typed errors. Every raftkit error extends `RaftError` and has a stable string `code`, so
 * callers switch on codes rather than on messages.
 */
import type { NodeId } from './types.js';

export type RaftErrorCode =
  | 'RAFT_NOT_LEADER'
  | 'RAFT_PROPOSAL_DROPPED'
  | 'RAFT_OVERLOADED'
  | 'RAFT_TRANSFER_REJECTED'
  | 'RAFT_MEMBERSHIP_REFUSED'
  | 'RAFT_INVALID_MESSAGE'
  | 'RAFT_INVALID_CONFIG'
  | 'RAFT_ASSERTION'
  // Raised by the node layer.
  | 'RAFT_STOPPED'
  | 'RAFT_TIMEOUT'
  | 'RAFT_ABORTED'
  | 'RAFT_INVALID_COMMAND'
  // Raised by replicated objects.
  | 'RAFT_INVALID_OPERATION'
  // Raised by the key-value server and its client.
  | 'RAFT_BAD_REQUEST'
  | 'RAFT_SESSION_EXPIRED'
  | 'RAFT_UNAVAILABLE'
  | 'RAFT_SERVER_ERROR'
  | 'RAFT_AUTH_FILE'
  | 'RAFT_AUTH_REFUSED'
  // Raised by the storage layer; listed here so that every code of the project is in one place.
  | 'RAFT_STORAGE_CORRUPT'
  | 'RAFT_STORAGE_FAILED'
  | 'RAFT_STORAGE_LOCKED'
  | 'RAFT_NOT_A_DATA_DIR';

export class RaftError extends Error {
  readonly code: RaftErrorCode;

  constructor(code: RaftErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The operation needs the leader and this node is not it. `leader` is the leader this node
 * knows in `term`, or null while there is none: forward there, or retry later.
 */
export class NotLeaderError extends RaftError {
  readonly leader: NodeId | null;
  readonly term: number;
  /** Where the leader listens, when the layer above knows it (ids default to addresses). */
  readonly leaderAddress: string | null;

  constructor(leader: NodeId | null, term: number, leaderAddress: string | null = leader) {
    super(
      'RAFT_NOT_LEADER',
      leader === null
        ? `not the leader, and no leader is known in term ${term}`
        : `not the leader; the leader in term ${term} is ${leader}${leaderAddress !== null && leaderAddress !== leader ? ` at ${leaderAddress}` : ''}`,
    );
    this.leader = leader;
    this.term = term;
    this.leaderAddress = leader === null ? null : leaderAddress;
  }
}

export type ProposalDropReason =
  /** A leadership transfer is under way; retry on the new leader. */
  | 'transfer-in-progress'
  /** The proposal itself is unusable: no commands, or a command that is not bytes. */
  | 'invalid'
  /** The command is larger than one message of the transport can carry. */
  | 'too-large'
  /**
   * Another leader's entry took the proposal's place in the log: it was never applied, and
   * never will be. Safe to retry.
   */
  | 'superseded';

/** The leader refused a proposal; `reason` says why. */
export class ProposalDroppedError extends RaftError {
  readonly reason: ProposalDropReason;
  /** The message without its prefix: what a forwarded refusal carries. */
  readonly detail: string;

  constructor(reason: ProposalDropReason, detail: string) {
    super('RAFT_PROPOSAL_DROPPED', `proposal dropped (${reason}): ${detail}`);
    this.reason = reason;
    this.detail = detail;
  }
}

export const proposalDropReasons: readonly ProposalDropReason[] = [
  'transfer-in-progress',
  'invalid',
  'too-large',
  'superseded',
];

/**
 * A bounded queue is full (`limit` names the option): retry after the backlog drains. This is
 * back-pressure, not a failure of the cluster.
 */
export class OverloadedError extends RaftError {
  readonly limit: string;
  /** The message without its prefix: what a forwarded refusal carries. */
  readonly detail: string;

  constructor(limit: string, detail: string) {
    super('RAFT_OVERLOADED', `overloaded (${limit}): ${detail}`);
    this.limit = limit;
    this.detail = detail;
  }
}

/** `transferLeader(to)` named a node that cannot become leader. */
export class TransferRejectedError extends RaftError {
  readonly target: NodeId;

  constructor(target: NodeId, detail: string) {
    super('RAFT_TRANSFER_REJECTED', `cannot transfer leadership to ${target}: ${detail}`);
    this.target = target;
  }
}

export type MembershipRefusal =
  /** Another change is not yet committed (or a joint configuration not yet left): retry. */
  | 'change-in-progress'
  /** This leader has not committed an entry of its own term yet (thesis §4.1): retry soon. */
  | 'not-ready'
  /** The change names a node that is not a member. */
  | 'unknown-member'
  /** The change adds a node that is already a member in that role. */
  | 'already-member'
  /** The change would leave the cluster without a voter. */
  | 'no-voter-left'
  /** A node to become a voter is missing, or too far behind the leader's log. */
  | 'not-caught-up'
  /** The change is malformed (empty, a node named twice, a bad id or address). */
  | 'invalid';

export const membershipRefusals: readonly MembershipRefusal[] = [
  'change-in-progress',
  'not-ready',
  'unknown-member',
  'already-member',
  'no-voter-left',
  'not-caught-up',
  'invalid',
];

/** The leader refused a membership change; `reason` says why, and nothing was changed. */
export class MembershipChangeError extends RaftError {
  readonly reason: MembershipRefusal;
  /** The message without its prefix: what a forwarded refusal carries. */
  readonly detail: string;

  constructor(reason: MembershipRefusal, detail: string) {
    super('RAFT_MEMBERSHIP_REFUSED', `membership change refused (${reason}): ${detail}`);
    this.reason = reason;
    this.detail = detail;
  }
}

/** A message given to `step` made no sense; the core's state was left unchanged. */
export class InvalidMessageError extends RaftError {
  constructor(detail: string) {
    super('RAFT_INVALID_MESSAGE', `invalid message: ${detail}`);
  }
}

/** Options or a configuration given to the core were unusable. */
export class InvalidConfigError extends RaftError {
  constructor(detail: string) {
    super('RAFT_INVALID_CONFIG', `invalid configuration: ${detail}`);
  }
}

/** An invariant did not hold: a bug in raftkit or a contract broken by its caller. */
export class AssertionError extends RaftError {
  constructor(detail: string) {
    super('RAFT_ASSERTION', `assertion failed: ${detail}`);
  }
}
