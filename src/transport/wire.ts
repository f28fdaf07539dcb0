/**
 * @module
 * Everything that travels between two nodes: the core's Raft messages, plus the node layer's
 * own requests (a follower forwarding a proposal to its leader, and the leader's refusal).
 */
import type { Message, NodeId, ProposalDropReason, SnapshotMeta } from '../core/index.js';

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

/**
 * A piece of a snapshot the leader streams to a follower: `data` is the snapshot's bytes from
 * `offset` on. The last piece says so; the follower then writes the file down and hands the
 * core the snapshot (an `install-snapshot`) as if the leader had sent it whole.
 */
export interface SnapshotChunk {
  readonly type: 'snapshot-chunk';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly snapshot: SnapshotMeta;
  readonly offset: number;
  readonly last: boolean;
  readonly data: Uint8Array;
}

/** What a follower has of a snapshot being streamed to it. */
export type SnapshotAckStatus =
  /** Every byte before `offset` is in; send on. */
  | 'received'
  /** A piece after `offset` came first (one was lost): send again from `offset`. */
  | 'gap'
  /** The file is durable and the core has the snapshot. */
  | 'installed'
  /** The follower gave up on it (a write failed): the leader tries again later. */
  | 'failed';

export const snapshotAckStatuses: readonly SnapshotAckStatus[] = [
  'received',
  'gap',
  'installed',
  'failed',
];

export interface SnapshotAck {
  readonly type: 'snapshot-ack';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** The snapshot's index. */
  readonly index: number;
  readonly offset: number;
  readonly status: SnapshotAckStatus;
}

/**
 * A node asks its leader to change the membership, or hand over leadership, on its behalf:
 * the HTTP API serves those on every node, as it does writes. `body` is JSON, one of
 * `{"changes":[MemberChange...]}`, `{"addVoter":{"id","address"?}}`, `{"transfer":"id"}`;
 * the leader checks it.
 */
export interface MemberRequest {
  readonly type: 'member-request';
  readonly from: NodeId;
  readonly to: NodeId;
  /** The requester's number for this request, echoed in the reply. */
  readonly id: number;
  readonly term: number;
  /** How long the leader may work on it (adding a voter waits for it to catch up). */
  readonly timeoutMs: number;
  readonly body: string;
}

/** How a forwarded membership request ended, as the error code the requester rebuilds. */
export type MemberReplyCode =
  | 'ok'
  | 'RAFT_MEMBERSHIP_REFUSED'
  | 'RAFT_NOT_LEADER'
  | 'RAFT_PROPOSAL_DROPPED'
  | 'RAFT_TRANSFER_REJECTED'
  | 'RAFT_TIMEOUT'
  | 'RAFT_FAILED'
  /**
   * Unasked (`id` 0): a leader tells a node that campaigns, and that its committed
   * configuration at `index` leaves out, that it is no member: a node removed while it was cut
   * off never received the entry that removed it.
   */
  | 'RAFT_NOT_MEMBER';

export const memberReplyCodes: readonly MemberReplyCode[] = [
  'ok',
  'RAFT_MEMBERSHIP_REFUSED',
  'RAFT_NOT_LEADER',
  'RAFT_PROPOSAL_DROPPED',
  'RAFT_TRANSFER_REJECTED',
  'RAFT_TIMEOUT',
  'RAFT_FAILED',
  'RAFT_NOT_MEMBER',
];

/** The leader's answer to a `member-request`, once the change has applied there (or not). */
export interface MemberReply {
  readonly type: 'member-reply';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly id: number;
  readonly term: number;
  readonly code: MemberReplyCode;
  /** The refusal's or drop's reason; null otherwise. */
  readonly reason: string | null;
  /** The error's message without its prefix; empty when ok. */
  readonly detail: string;
  /** The leader the answering node knows (for `RAFT_NOT_LEADER`). */
  readonly leader: NodeId | null;
  /** When ok: the index of the configuration the change ended in. */
  readonly index: number;
}

export type NodeRequest =
  | ForwardProposal
  | ForwardRefusal
  | SnapshotChunk
  | SnapshotAck
  | MemberRequest
  | MemberReply;

/** What a transport carries. */
export type WireMessage = Message | NodeRequest;

/** Longest node id accepted on the wire, in bytes of UTF-8. */
export const MAX_ID_BYTES = 255;

/** Longest text (an error message) accepted on the wire, in bytes of UTF-8. */
export const MAX_TEXT_BYTES = 4096;
