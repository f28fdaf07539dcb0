/**
 * @module
 * A configuration as data: the payload of a `config` entry, and the membership part of a
 * snapshot's metadata. An entry carries the whole configuration that follows it (not a
 * change to apply), so the configuration in force anywhere in a log is the last one in it,
 * without any history before it: a member that joins later learns everybody from one entry.
 *
 * The payload is JSON, `{"voters":[...],"learners":[...],"outgoing"?:[...],"addresses"?:{}}`:
 * configuration entries are rare and small, and a readable form helps `raftkit inspect`.
 */
import { InvalidConfigError } from './errors.js';
import { type Membership, type MembershipSpec, membership, membershipSpec } from './membership.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The bytes of a configuration entry for `m`. */
export function encodeConfig(m: Membership): Uint8Array {
  return encoder.encode(JSON.stringify(membershipSpec(m)));
}

/** The configuration a `config` entry's bytes carry, or why they carry none. */
export function decodeConfig(data: Uint8Array): Membership | string {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    return 'a configuration entry is not JSON';
  }
  return membershipOf(value);
}

/** The membership `value` (a spec as parsed from JSON) describes, or why it is none. */
export function membershipOf(value: unknown): Membership | string {
  const problem = checkMembershipSpec(value);
  if (problem !== undefined) return problem;
  try {
    return membership(value as MembershipSpec);
  } catch (e) {
    if (e instanceof InvalidConfigError) return e.message;
    throw e;
  }
}

/** Why `value` is not a membership spec's shape, or undefined when it is one. */
export function checkMembershipSpec(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'a membership is not an object';
  const { voters, learners, outgoing, addresses } = value as Record<string, unknown>;
  if (!isIdList(voters) || voters.length === 0) return 'a membership names at least one voter';
  if (learners !== undefined && !isIdList(learners)) return 'learners must be a list of ids';
  if (outgoing !== undefined && !isIdList(outgoing)) return 'outgoing voters must be a list of ids';
  if (addresses !== undefined) {
    if (typeof addresses !== 'object' || addresses === null || Array.isArray(addresses)) {
      return 'addresses must be an object';
    }
    for (const a of Object.values(addresses)) {
      if (typeof a !== 'string' || a.length === 0) return 'an address must be a non-empty string';
    }
  }
  const all = [...voters, ...((learners as string[] | undefined) ?? [])];
  if (new Set(all).size !== all.length) return 'a membership names a member twice';
  return undefined;
}

function isIdList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((id) => typeof id === 'string' && id.length > 0);
}
