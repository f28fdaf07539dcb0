/**
 * @module
 * What a core is created with: its identity, storage, membership, source of randomness, and
 * every timing and size limit, each named with its unit.
 */
import { InvalidConfigError } from './errors.js';
import type { LogStorage } from './log-storage.js';
import { type Membership, type MembershipSpec, membership } from './membership.js';
import type { Random } from './random.js';
import type { NodeId } from './types.js';

export interface RaftOptions {
  readonly id: NodeId;
  readonly storage: LogStorage;
  /** The configuration to start with. */
  readonly membership: Membership | MembershipSpec;
  /** Picks election timeouts. Seed it for reproducible runs. */
  readonly random: Random;
  /** Last index the state machine already holds (restored from a snapshot). Default: none. */
  readonly applied?: number;
  /**
   * Ticks without hearing from a leader before a follower campaigns; the actual timeout is
   * drawn from [electionTicks, 2 * electionTicks). A leader with check-quorum steps down when
   * it has not heard from a quorum for this long. Default 10.
   */
  readonly electionTicks?: number;
  /** Ticks between a leader's heartbeats. Must be below electionTicks. Default 1. */
  readonly heartbeatTicks?: number;
  /** Pre-vote (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** Check-quorum and leader lease against disruptive votes (thesis §6.2, §4.2.3). Default true. */
  readonly checkQuorum?: boolean;
  /** Upper bound of one AppendEntries' entries, in bytes (one larger entry still goes alone). */
  readonly maxAppendBytes?: number;
  /** AppendEntries in flight per follower in the replicate state. */
  readonly maxInflightMessages?: number;
  /** Bytes of entries in flight per follower. */
  readonly maxInflightBytes?: number;
  /** Bytes of entries the leader holds uncommitted before it refuses proposals. */
  readonly maxUncommittedBytes?: number;
  /** Upper bound of the committed entries handed out by one Ready, in bytes. */
  readonly maxApplyBytes?: number;
  /** Reads waiting for a read index, on a leader, and forwarded by a follower. */
  readonly maxPendingReads?: number;
  /** Entries a node may lag behind the leader's last index and still become a voter. */
  readonly maxPromotionLag?: number;
  /**
   * The driver overlaps writes (`RawNode.accept`). A Ready then hands out to apply only
   * committed entries already durable here, so they may apply before its own write is done
   * (etcd's asynchronous storage writes). Default false: they may be in the Ready's own
   * entries, and apply after its write.
   */
  readonly asyncStorageWrites?: boolean;
}

export interface ResolvedOptions {
  readonly id: NodeId;
  readonly storage: LogStorage;
  readonly membership: Membership;
  readonly random: Random;
  readonly applied: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxAppendBytes: number;
  readonly maxInflightMessages: number;
  readonly maxInflightBytes: number;
  readonly maxUncommittedBytes: number;
  readonly maxApplyBytes: number;
  readonly maxPendingReads: number;
  readonly maxPromotionLag: number;
  readonly asyncStorageWrites: boolean;
}

const MiB = 1024 * 1024;

export const defaultLimits = {
  electionTicks: 10,
  heartbeatTicks: 1,
  maxAppendBytes: 1 * MiB,
  maxInflightMessages: 256,
  maxInflightBytes: 32 * MiB,
  maxUncommittedBytes: 256 * MiB,
  maxApplyBytes: 64 * MiB,
  maxPendingReads: 65_536,
  maxPromotionLag: 1_000,
} as const;

export function resolveOptions(options: RaftOptions): ResolvedOptions {
  if (typeof options.id !== 'string' || options.id.length === 0) {
    throw new InvalidConfigError('id must be a non-empty string');
  }
  // A built Membership holds Sets; a spec holds arrays and is validated here.
  const m =
    options.membership.voters instanceof Set
      ? (options.membership as Membership)
      : membership(options.membership as MembershipSpec);
  const resolved: ResolvedOptions = {
    id: options.id,
    storage: options.storage,
    membership: m,
    random: options.random,
    applied: options.applied ?? options.storage.firstIndex() - 1,
    electionTicks: options.electionTicks ?? defaultLimits.electionTicks,
    heartbeatTicks: options.heartbeatTicks ?? defaultLimits.heartbeatTicks,
    preVote: options.preVote ?? true,
    checkQuorum: options.checkQuorum ?? true,
    maxAppendBytes: options.maxAppendBytes ?? defaultLimits.maxAppendBytes,
    maxInflightMessages: options.maxInflightMessages ?? defaultLimits.maxInflightMessages,
    maxInflightBytes: options.maxInflightBytes ?? defaultLimits.maxInflightBytes,
    maxUncommittedBytes: options.maxUncommittedBytes ?? defaultLimits.maxUncommittedBytes,
    maxApplyBytes: options.maxApplyBytes ?? defaultLimits.maxApplyBytes,
    maxPendingReads: options.maxPendingReads ?? defaultLimits.maxPendingReads,
    maxPromotionLag: options.maxPromotionLag ?? defaultLimits.maxPromotionLag,
    asyncStorageWrites: options.asyncStorageWrites ?? false,
  };
  for (const key of [
    'electionTicks',
    'heartbeatTicks',
    'maxAppendBytes',
    'maxInflightMessages',
    'maxInflightBytes',
    'maxUncommittedBytes',
    'maxApplyBytes',
    'maxPendingReads',
    'maxPromotionLag',
  ] as const) {
    const v = resolved[key];
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new InvalidConfigError(`${key} must be a positive integer, got ${String(v)}`);
    }
  }
  if (resolved.heartbeatTicks >= resolved.electionTicks) {
    throw new InvalidConfigError(
      `heartbeatTicks (${resolved.heartbeatTicks}) must be below electionTicks (${resolved.electionTicks})`,
    );
  }
  return resolved;
}
