/**
 * @module
 * Everything that travels between two nodes: the core's Raft messages, plus the node layer's
 * own requests (a follower forwarding a proposal to its leader, and the leader's refusal).
 */
import type { Message, NodeId } from '../core/index.js';

/** A follower hands commands to the leader (forwarding is on by default). */
export interface ForwardProposal {
  readonly type: 'forward';
  readonly from: NodeId;
  readonly to: NodeId;
  /** The follower's number for this request, echoed in a refusal. */
  readonly id: number;
  readonly commands: readonly Uint8Array[];
}

/**
 * The leader could not take a forwarded proposal. Success has no reply: the follower learns
 * of it when it applies the entry, with its own state machine's result.
 */
export interface ForwardRefusal {
  readonly type: 'forward-refusal';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly id: number;
  /** A `RaftErrorCode`; the follower rebuilds the typed error from it. */
  readonly code: string;
  readonly message: string;
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
