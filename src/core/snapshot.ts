/**
 * @module
 * A snapshot, as the core knows it: where it stands in the log (the last entry it covers, and
 * that entry's term) and the membership in force there. The state itself never enters the
 * core: the layer above writes it, streams it to a follower and restores it; the core decides
 * when a follower needs one and when a received one replaces the log (Raft paper §7).
 */
import { checkMembershipSpec } from './config-entry.js';
import type { MembershipSpec } from './membership.js';

/**
 * The membership a snapshot carries, as plain lists (it is written to disk and the wire):
 * voters, learners, the outgoing voters of a joint configuration, and members' addresses.
 */
export type SnapshotMembership = MembershipSpec;

export interface SnapshotMeta {
  /** The last entry the snapshot covers. */
  readonly index: number;
  /** That entry's term. */
  readonly term: number;
  /** The membership in force at `index`. */
  readonly membership: SnapshotMembership;
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Why `meta` is not a snapshot's metadata, or undefined when it is one. */
export function checkSnapshotMeta(meta: unknown): string | undefined {
  if (typeof meta !== 'object' || meta === null) return 'snapshot metadata is not an object';
  const { index, term, membership: m } = meta as Record<string, unknown>;
  if (!isIndex(index) || index === 0) return 'snapshot index must be a positive integer';
  if (!isIndex(term) || term === 0) return 'snapshot term must be a positive integer';
  const problem = checkMembershipSpec(m);
  return problem === undefined ? undefined : `snapshot membership: ${problem}`;
}
