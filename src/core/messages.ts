/**
 * @module
 * Every message two Raft cores exchange. Each is a plain object, so any codec can carry it; the
 * transport validates the shape on decode and the core validates the meaning in `step`.
 */
import type { SnapshotMeta } from './snapshot.js';
import type { Entry, NodeId } from './types.js';

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  /**
   * The sender's term. For a pre-vote request, the term the sender would campaign in
   * (its own term + 1); for a granted pre-vote response, that same requested term.
   */
  readonly term: number;
}

/** AppendEntries (paper §5.3): the leader's entries following `prevIndex`. */
export interface AppendRequest extends Envelope {
  readonly type: 'append';
  /** Index of the entry just before `entries`. */
  readonly prevIndex: number;
  /** Term of the entry at `prevIndex` in the leader's log. */
  readonly prevTerm: number;
  /** Consecutive entries from `prevIndex + 1`; empty to carry only `commit`. */
  readonly entries: readonly Entry[];
  /** The leader's commit index. */
  readonly commit: number;
}

/** The answer to an AppendRequest. */
export interface AppendResponse extends Envelope {
  readonly type: 'append-response';
  readonly success: boolean;
  /**
   * On success: the follower's log matches the leader's up to here.
   * On rejection: the `prevIndex` of the request that did not match.
   */
  readonly index: number;
  /**
   * On rejection, for fast backtracking: the follower's last index whose term is at most the
   * request's `prevTerm` (never beyond its own last index), and that entry's term. The leader
   * skips every index above that cannot match, one round trip per term rather than per entry.
   */
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Leader liveness, commit propagation and ReadIndex confirmation (thesis §6.4). */
export interface HeartbeatRequest extends Envelope {
  readonly type: 'heartbeat';
  /** min(leader's commit, the follower's known match): never beyond the follower's log. */
  readonly commit: number;
  /** The latest ReadIndex round the leader has started; echoed back. 0 when none. */
  readonly round: number;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeat-response';
  readonly round: number;
}

/** RequestVote (paper §5.2), or its pre-vote form (thesis §9.6). */
export interface VoteRequest extends Envelope {
  readonly type: 'vote';
  readonly preVote: boolean;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Set when a leadership transfer caused the election: voters skip their leader lease. */
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'vote-response';
  readonly preVote: boolean;
  readonly granted: boolean;
}

/** Leadership transfer (thesis §3.10): start an election now, without waiting for a timeout. */
export interface TimeoutNow extends Envelope {
  readonly type: 'timeout-now';
}

/** A follower asks the leader for a read index on behalf of one of its own reads. */
export interface ReadIndexRequest extends Envelope {
  readonly type: 'read-index';
  readonly context: string;
}

/** The leader's answer once leadership was confirmed for a round that covers the request. */
export interface ReadIndexResponse extends Envelope {
  readonly type: 'read-index-response';
  readonly context: string;
  readonly index: number;
}

/**
 * InstallSnapshot (paper §7): the follower needs entries the leader has compacted away, so the
 * leader's snapshot replaces its log up to `snapshot.index`. The state itself travels beside
 * the core (the node streams it in chunks); this message goes to the follower's core once the
 * state has arrived. The follower answers with an AppendResponse.
 */
export interface InstallSnapshot extends Envelope {
  readonly type: 'install-snapshot';
  readonly snapshot: SnapshotMeta;
}

export type Message =
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | VoteRequest
  | VoteResponse
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse
  | InstallSnapshot;

export type MessageType = Message['type'];

export const messageTypes: readonly MessageType[] = [
  'append',
  'append-response',
  'heartbeat',
  'heartbeat-response',
  'vote',
  'vote-response',
  'timeout-now',
  'read-index',
  'read-index-response',
  'install-snapshot',
];
