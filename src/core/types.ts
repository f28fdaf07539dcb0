/**
 * @module
 * The values the Raft core reads and produces: log entries, hard state, roles, read states.
 */

/** A node's identity. By convention (and by default in the node layer) its `host:port`. */
export type NodeId = string;

/**
 * What an entry carries.
 * - `command`: opaque bytes for the state machine above.
 * - `noop`: appended by every new leader so that it can commit an entry of its own term
 *   (Raft paper §5.4.2, figure 8); never handed to the state machine as a command.
 * - `config`: a configuration (thesis ch. 4), in force on every node that holds the entry;
 *   never handed to the state machine as a command either.
 */
export type EntryKind = 'command' | 'noop' | 'config';

/** Each kind's code, one table for the wire and the disk (the disk's numbering came first). */
export const entryKindCodes: Readonly<Record<EntryKind, number>> = {
  command: 0,
  noop: 1,
  config: 2,
};

const entryKindByCode = new Map(
  Object.entries(entryKindCodes).map(([kind, code]) => [code, kind as EntryKind]),
);

/** The kind a code stands for, or undefined for an unknown code. */
export function entryKindOf(code: number): EntryKind | undefined {
  return entryKindByCode.get(code);
}

/** One record of the replicated log. */
export interface Entry {
  /** Position in the log, starting at 1. Invariant: consecutive in any slice of a log. */
  readonly index: number;
  /** Term of the leader that created the entry. Invariant: never decreases along a log. */
  readonly term: number;
  readonly kind: EntryKind;
  /** The command's bytes; empty for a `noop`. The core never looks inside. */
  readonly data: Uint8Array;
}

/** The state that must be on stable storage before any message that depends on it leaves. */
export interface HardState {
  /** Latest term this node has seen. Never decreases. */
  readonly term: number;
  /** Candidate this node voted for in `term`, or null. At most one per term. */
  readonly vote: NodeId | null;
  /** Highest log index known to be committed. Persisting it is an optimisation, not a need. */
  readonly commit: number;
}

export const emptyHardState: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * A node's role. `pre-candidate` is the pre-vote phase (thesis §9.6): the node asks whether it
 * could win before raising its term.
 */
export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state the layer above watches to derive leader and follower callbacks. */
export interface SoftState {
  readonly role: Role;
  /** The leader known in the current term, or null. */
  readonly leader: NodeId | null;
  readonly term: number;
}

/**
 * The answer to a `readIndex(context)` call: once the local state machine has applied up to
 * `index`, a read issued with `context` may be served and is linearizable.
 */
export interface ReadState {
  readonly context: string;
  readonly index: number;
}

/** Bytes an entry is charged for in message and memory limits (payload plus framing). */
export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

/** Framing charged per entry: index, term and kind on the wire. */
export const ENTRY_OVERHEAD_BYTES = 24;
