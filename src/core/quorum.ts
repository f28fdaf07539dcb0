/**
 * @module
 * Pure majority maths: the highest index a quorum has, and the outcome of a vote. A joint
 * configuration needs both of its majorities. An empty voter set agrees to everything, which
 * makes the joint rules reduce to the simple ones when `outgoingVoters` is empty.
 */
import type { Membership } from './membership.js';
import type { NodeId } from './types.js';

export type VoteResult = 'won' | 'lost' | 'pending';

/** Number of voters that make a majority of `size`. */
export function quorumSize(size: number): number {
  return Math.floor(size / 2) + 1;
}

// Reused by `majorityIndex` so that the leader's hot path allocates nothing.
const scratch: number[] = [];

/** The largest index that a majority of `voters` has reached, per `indexOf`. */
export function majorityIndex(
  voters: ReadonlySet<NodeId>,
  indexOf: (id: NodeId) => number,
): number {
  const n = voters.size;
  if (n === 0) return Number.POSITIVE_INFINITY;
  scratch.length = 0;
  for (const id of voters) scratch.push(indexOf(id));
  // Insertion sort, descending: n is the number of voters, a handful.
  for (let i = 1; i < n; i++) {
    const v = scratch[i] as number;
    let j = i - 1;
    while (j >= 0 && (scratch[j] as number) < v) {
      scratch[j + 1] = scratch[j] as number;
      j--;
    }
    scratch[j + 1] = v;
  }
  return scratch[quorumSize(n) - 1] as number;
}

/** The largest index committed under `m` (both majorities when joint). */
export function committedIndex(m: Membership, indexOf: (id: NodeId) => number): number {
  const incoming = majorityIndex(m.voters, indexOf);
  if (m.outgoingVoters.size === 0) return incoming;
  return Math.min(incoming, majorityIndex(m.outgoingVoters, indexOf));
}

/** Outcome of a vote among `voters`; `votes` maps a voter to its answer, absent if none yet. */
export function majorityVote(
  voters: ReadonlySet<NodeId>,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  if (voters.size === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = quorumSize(voters.size);
  if (granted >= q) return 'won';
  if (granted + missing >= q) return 'pending';
  return 'lost';
}

/** Outcome of a vote under `m` (both majorities when joint). */
export function voteResult(m: Membership, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const incoming = majorityVote(m.voters, votes);
  const outgoing = majorityVote(m.outgoingVoters, votes);
  if (incoming === 'won' && outgoing === 'won') return 'won';
  if (incoming === 'lost' || outgoing === 'lost') return 'lost';
  return 'pending';
}

/** Whether the nodes for which `has` holds form a quorum under `m` (both majorities when joint). */
export function quorumReached(m: Membership, has: (id: NodeId) => boolean): boolean {
  return majorityHas(m.voters, has) && majorityHas(m.outgoingVoters, has);
}

function majorityHas(voters: ReadonlySet<NodeId>, has: (id: NodeId) => boolean): boolean {
  if (voters.size === 0) return true;
  let count = 0;
  for (const id of voters) if (has(id)) count++;
  return count >= quorumSize(voters.size);
}
