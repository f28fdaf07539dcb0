/**
 * @module
 * A snapshot, as the core knows it: where it stands in the log (the last entry it covers, and
 * that entry's term) and the membership in force there. The state itself never enters the
 * core: the layer above writes it, streams it to a follower and restores it; the core decides
 * when a follower needs one and when a received one replaces the log (Raft paper §7).
 */
import { type Membership, type MembershipSpec, membership } from './membership.js';
import type { NodeId } from './types.js';

/** The membership a snapshot carries, as plain lists (it is written to disk and the wire). */
export interface SnapshotMembership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMeta {
  /** The last entry the snapshot covers. */
  readonly index: number;
  /** That entry's term. */
  readonly term: number;
  /** The membership in force at `index`. */
  readonly membership: SnapshotMembership;
}

/** The lists of a core membership (a joint configuration is not yet carried). */
export function snapshotMembership(m: Membership): SnapshotMembership {
  return { voters: [...m.voters], learners: [...m.learners] };
}

/** The core membership a snapshot's lists describe. */
export function membershipOf(s: SnapshotMembership): Membership {
  const spec: MembershipSpec = { voters: s.voters, learners: s.learners };
  return membership(spec);
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
  if (typeof m !== 'object' || m === null) return 'snapshot membership is not an object';
  const { voters, learners } = m as Record<string, unknown>;
  if (!Array.isArray(voters) || voters.length === 0) return 'a snapshot names at least one voter';
  if (!Array.isArray(learners)) return 'snapshot learners must be a list';
  const all = [...voters, ...learners];
  if (all.some((id) => typeof id !== 'string' || id.length === 0)) {
    return 'snapshot member ids must be non-empty strings';
  }
  if (new Set(all).size !== all.length) return 'a snapshot names a member twice';
  return undefined;
}
