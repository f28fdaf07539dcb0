/**
 * @module
 * Who is in the cluster. Voters elect and commit; learners only receive the log. During a
 * membership change (joint consensus, thesis §4.3) `outgoingVoters` holds the old voters and
 * every decision needs a majority of both sets; otherwise it is empty.
 */
import { InvalidConfigError } from './errors.js';
import type { NodeId } from './types.js';

export interface Membership {
  readonly voters: ReadonlySet<NodeId>;
  /** The previous voters while a joint configuration is in force; empty otherwise. */
  readonly outgoingVoters: ReadonlySet<NodeId>;
  readonly learners: ReadonlySet<NodeId>;
}

export interface MembershipSpec {
  readonly voters: readonly NodeId[];
  readonly learners?: readonly NodeId[];
}

/** Builds a validated, non-joint membership. */
export function membership(spec: MembershipSpec): Membership {
  const voters = new Set<NodeId>();
  const learners = new Set<NodeId>();
  for (const id of spec.voters) addUnique(voters, id, 'voter');
  for (const id of spec.learners ?? []) addUnique(learners, id, 'learner');
  if (voters.size === 0) throw new InvalidConfigError('at least one voter is needed');
  for (const id of learners) {
    if (voters.has(id)) throw new InvalidConfigError(`${id} is both a voter and a learner`);
  }
  return { voters, outgoingVoters: new Set(), learners };
}

function addUnique(set: Set<NodeId>, id: NodeId, what: string): void {
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidConfigError(`a ${what} id must be a non-empty string`);
  }
  if (set.has(id)) throw new InvalidConfigError(`${what} ${id} is listed twice`);
  set.add(id);
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

/** A readable one-liner, e.g. `voters=(a b c) learners=(d)`. */
export function describeMembership(m: Membership): string {
  const list = (s: ReadonlySet<NodeId>): string => `(${[...s].sort().join(' ')})`;
  let out = `voters=${list(m.voters)}`;
  if (m.outgoingVoters.size > 0) out += `&&${list(m.outgoingVoters)}`;
  if (m.learners.size > 0) out += ` learners=${list(m.learners)}`;
  return out;
}
