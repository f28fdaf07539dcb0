/**
 * @module
 * Who is in the cluster. Voters elect and commit; learners only receive the log. During a
 * membership change (joint consensus, thesis §4.3) `outgoingVoters` holds the old voters and
 * every decision needs a majority of both sets; otherwise it is empty. `addresses` says where
 * members listen, for the layers above: a configuration travels in the log and in snapshots,
 * so a new member learns from it how to reach everybody. The core never reads it.
 */
import { InvalidConfigError } from './errors.js';
import type { NodeId } from './types.js';

export interface Membership {
  readonly voters: ReadonlySet<NodeId>;
  /** The previous voters while a joint configuration is in force; empty otherwise. */
  readonly outgoingVoters: ReadonlySet<NodeId>;
  readonly learners: ReadonlySet<NodeId>;
  /** Where members listen, for those whose address is known (ids default to addresses). */
  readonly addresses: ReadonlyMap<NodeId, string>;
}

export interface MembershipSpec {
  readonly voters: readonly NodeId[];
  readonly learners?: readonly NodeId[];
  /** The old voters of a joint configuration. */
  readonly outgoing?: readonly NodeId[];
  readonly addresses?: Readonly<Record<NodeId, string>>;
}

/** Builds a validated membership; joint when `spec.outgoing` names voters. */
export function membership(spec: MembershipSpec): Membership {
  const voters = new Set<NodeId>();
  const outgoingVoters = new Set<NodeId>();
  const learners = new Set<NodeId>();
  for (const id of spec.voters) addUnique(voters, id, 'voter');
  for (const id of spec.outgoing ?? []) addUnique(outgoingVoters, id, 'outgoing voter');
  for (const id of spec.learners ?? []) addUnique(learners, id, 'learner');
  if (voters.size === 0) throw new InvalidConfigError('at least one voter is needed');
  for (const id of learners) {
    if (voters.has(id) || outgoingVoters.has(id)) {
      throw new InvalidConfigError(`${id} is both a voter and a learner`);
    }
  }
  const addresses = new Map<NodeId, string>();
  for (const [id, address] of Object.entries(spec.addresses ?? {})) {
    if (!voters.has(id) && !outgoingVoters.has(id) && !learners.has(id)) {
      throw new InvalidConfigError(`an address is given for ${id}, which is not a member`);
    }
    if (typeof address !== 'string' || address.length === 0) {
      throw new InvalidConfigError(`the address of ${id} must be a non-empty string`);
    }
    addresses.set(id, address);
  }
  return { voters, outgoingVoters, learners, addresses };
}

/** The membership of a node that has yet to learn its cluster's (one started to join it). */
export const unknownMembership: Membership = Object.freeze({
  voters: new Set<NodeId>(),
  outgoingVoters: new Set<NodeId>(),
  learners: new Set<NodeId>(),
  addresses: new Map<NodeId, string>(),
});

function addUnique(set: Set<NodeId>, id: NodeId, what: string): void {
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidConfigError(`a ${what} id must be a non-empty string`);
  }
  if (set.has(id)) throw new InvalidConfigError(`${what} ${id} is listed twice`);
  set.add(id);
}

/** The lists of `m`, as written to the log, snapshots and the wire. */
export function membershipSpec(m: Membership): MembershipSpec {
  const spec: {
    voters: NodeId[];
    learners: NodeId[];
    outgoing?: NodeId[];
    addresses?: Record<NodeId, string>;
  } = { voters: [...m.voters], learners: [...m.learners] };
  if (m.outgoingVoters.size > 0) spec.outgoing = [...m.outgoingVoters];
  if (m.addresses.size > 0) spec.addresses = Object.fromEntries(m.addresses);
  return spec;
}

/** Whether a joint configuration is in force. */
export function isJoint(m: Membership): boolean {
  return m.outgoingVoters.size > 0;
}

/** Whether `id` votes under `m` (in either half of a joint configuration). */
export function isVoter(m: Membership, id: NodeId): boolean {
  return m.voters.has(id) || m.outgoingVoters.has(id);
}

/** Whether `id` is known to `m` at all, as voter or learner. */
export function isMember(m: Membership, id: NodeId): boolean {
  return isVoter(m, id) || m.learners.has(id);
}

/** Every node the configuration names, each once, voters first. */
export function allMembers(m: Membership): NodeId[] {
  const ids = new Set<NodeId>(m.voters);
  for (const id of m.outgoingVoters) ids.add(id);
  for (const id of m.learners) ids.add(id);
  return [...ids];
}

/** Whether two memberships name the same voters, outgoing voters and learners. */
export function sameMembers(a: Membership, b: Membership): boolean {
  const same = (x: ReadonlySet<NodeId>, y: ReadonlySet<NodeId>): boolean =>
    x.size === y.size && [...x].every((id) => y.has(id));
  return (
    same(a.voters, b.voters) &&
    same(a.outgoingVoters, b.outgoingVoters) &&
    same(a.learners, b.learners)
  );
}

/** A readable one-liner, e.g. `voters=(a b c) learners=(d)`. */
export function describeMembership(m: Membership): string {
  const list = (s: ReadonlySet<NodeId>): string => `(${[...s].sort().join(' ')})`;
  let out = `voters=${list(m.voters)}`;
  if (m.outgoingVoters.size > 0) out += `&&${list(m.outgoingVoters)}`;
  if (m.learners.size > 0) out += ` learners=${list(m.learners)}`;
  return out;
}
