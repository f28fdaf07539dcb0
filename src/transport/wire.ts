/**
 * @module
 * Everything that travels between two nodes: the core's Raft messages, plus the node layer's
 * own requests (a follower forwarding a proposal to its leader, and the leader's refusal).
 */
import type { Message, NodeId, ProposalDropReason } from '../core/index.js';

/** A follower hands commands to the leader (forwarding is on by default). */
export interface ForwardProposal {
  readonly type: 'forward';
  readonly from: NodeId;
  readonly to: NodeId;
  /** The follower's number for this request, echoed in a refusal. */
  readonly id: number;
  /**
   * The term of the leader it is meant for: a leader of another term refuses it, so that once
   * the follower applies an entry of a later term, it knows the request can never apply.
   */
  readonly term: number;
  readonly commands: readonly Uint8Array[];
}

/** What a leader may refuse a forwarded proposal with: the codes of the errors it rebuilds. */
export type RefusalCode = 'RAFT_NOT_LEADER' | 'RAFT_PROPOSAL_DROPPED' | 'RAFT_OVERLOADED';

/**
 * The leader could not take a forwarded proposal. Success has no reply: the follower learns
 * of it when it applies the entry, with its own state machine's result. The refusal carries
 * the error's typed fields, from which the follower rebuilds the same error.
 */
export interface ForwardRefusal {
  readonly type: 'forward-refusal';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly id: number;
  readonly code: RefusalCode;
  /** For `RAFT_PROPOSAL_DROPPED`, why; null otherwise. */
  readonly reason: ProposalDropReason | null;
  /** For `RAFT_OVERLOADED`, the option whose bound was reached; null otherwise. */
  readonly limit: string | null;
  /** The error's message without its prefix. */
  readonly detail: string;
  /** The leader the refusing node knows, or null (for `RAFT_NOT_LEADER`). */
  readonly leader: NodeId | null;
  readonly term: number;
}

export type NodeRequest = ForwardProposal | ForwardRefusal;

/** What a transport carries. */
export type WireMessage = Message | NodeRequest;

/** Longest node id accepted on the wire, in bytes of UTF-8. */
export const MAX_ID_BYTES = 255;

/** Longest text (an error message) accepted on the wire, in bytes of UTF-8. */
export const MAX_TEXT_BYTES = 4096;
