/**
 * @module
 * What a membership change asks for, and the configurations it goes through. A change that
 * adds or removes at most one voter goes straight to its target (thesis §4.1: any majority of
 * the old voters and any of the new ones share a member). One that changes more voters goes
 * through a joint configuration first (thesis §4.3), in which every decision needs a majority
 * of the old voters and of the new; the leader leaves it once it is committed. Learners never
 * count toward a majority, so adding or removing them never needs the joint step.
 */
import { MembershipChangeError } from './errors.js';
import { isMember, isVoter, type Membership } from './membership.js';
import type { NodeId } from './types.js';

export type MemberChange =
  /** A new non-voting member, which receives the log and can later be promoted. */
  | { readonly type: 'add-learner'; readonly id: NodeId; readonly address?: string }
  /** A learner promoted to voter (or, if caught up, a node made a voter directly). */
  | { readonly type: 'add-voter'; readonly id: NodeId; readonly address?: string }
  /** A voter or learner taken out of the cluster. */
  | { readonly type: 'remove'; readonly id: NodeId };

export interface ChangePlan {
  /** The configuration the change ends in. */
  readonly target: Membership;
  /** The configuration to append now: the target, or the joint step towards it. */
  readonly next: Membership;
  /** The nodes that become voters (each must be caught up first). */
  readonly newVoters: readonly NodeId[];
}

/** Plans `changes` from the (non-joint) configuration `current`; throws if they are refused. */
export function planChange(current: Membership, changes: readonly MemberChange[]): ChangePlan {
  if (changes.length === 0) throw new MembershipChangeError('invalid', 'no change given');
  const voters = new Set(current.voters);
  const learners = new Set(current.learners);
  const addresses = new Map(current.addresses);
  const named = new Set<NodeId>();
  const newVoters: NodeId[] = [];
  for (const c of changes) {
    if (typeof c.id !== 'string' || c.id.length === 0) {
      throw new MembershipChangeError('invalid', 'a member id must be a non-empty string');
    }
    if (named.has(c.id)) throw new MembershipChangeError('invalid', `${c.id} is named twice`);
    named.add(c.id);
    if (c.type !== 'remove' && c.address !== undefined) {
      if (typeof c.address !== 'string' || c.address.length === 0) {
        throw new MembershipChangeError('invalid', `the address of ${c.id} must be non-empty`);
      }
    }
    switch (c.type) {
      case 'add-learner':
        if (isMember(current, c.id)) {
          const role = isVoter(current, c.id) ? 'a voter' : 'a learner';
          throw new MembershipChangeError('already-member', `${c.id} is already ${role}`);
        }
        learners.add(c.id);
        if (c.address !== undefined) addresses.set(c.id, c.address);
        break;
      case 'add-voter':
        if (voters.has(c.id)) {
          throw new MembershipChangeError('already-member', `${c.id} is already a voter`);
        }
        learners.delete(c.id);
        voters.add(c.id);
        newVoters.push(c.id);
        if (c.address !== undefined) addresses.set(c.id, c.address);
        break;
      case 'remove':
        if (!isMember(current, c.id)) {
          throw new MembershipChangeError('unknown-member', `${c.id} is not a member`);
        }
        voters.delete(c.id);
        learners.delete(c.id);
        addresses.delete(c.id);
        break;
      default:
        throw new MembershipChangeError(
          'invalid',
          `unknown change type ${String((c as { type: unknown }).type)}`,
        );
    }
  }
  if (voters.size === 0) {
    throw new MembershipChangeError('no-voter-left', 'the change would leave no voter');
  }
  const target: Membership = { voters, outgoingVoters: new Set(), learners, addresses };
  let changed = 0;
  for (const id of voters) if (!current.voters.has(id)) changed++;
  for (const id of current.voters) if (!voters.has(id)) changed++;
  if (changed <= 1) return { target, next: target, newVoters };
  // The joint step keeps the addresses of the voters on their way out: they still vote.
  const jointAddresses = new Map(current.addresses);
  for (const [id, a] of addresses) jointAddresses.set(id, a);
  const joint: Membership = {
    voters,
    outgoingVoters: new Set(current.voters),
    learners,
    addresses: jointAddresses,
  };
  return { target, next: joint, newVoters };
}

/** The configuration that leaves the joint configuration `joint`: its incoming half alone. */
export function leaveJoint(joint: Membership): Membership {
  const addresses = new Map<NodeId, string>();
  for (const [id, a] of joint.addresses) {
    if (joint.voters.has(id) || joint.learners.has(id)) addresses.set(id, a);
  }
  return { voters: joint.voters, outgoingVoters: new Set(), learners: joint.learners, addresses };
}
