/**
 * @module
 * What a `RaftNode` is made of and how it is tuned, with the defaults and their reasons.
 *
 * Timing: a heartbeat every 100 ms and an election timeout drawn from [1 s, 2 s), as etcd
 * defaults to. raftos used 0.3 s heartbeats and stepped down after five missed ones (1.5 s,
 * spread up to 4.5 s); `raftosTiming` restores that. Faster than raftos because a loopback or
 * LAN round trip is under a millisecond, and failover is what users wait for: a new leader in
 * 1–2 s rather than up to 4.5 s, at the cost of ten small heartbeats a second per follower.
 */

import { InvalidConfigError, type NodeId, type RaftOptions, type Random } from '../core/index.js';
import type { DurableStorage } from '../storage/index.js';
import { MAX_ID_BYTES, MESSAGE_OVERHEAD_BYTES, type Transport } from '../transport/index.js';
import type { Clock } from './clock.js';
import { COMMAND_ENVELOPE_BYTES } from './command.js';
import type { TransferOptions } from './snapshot-transfer.js';
import type { SnapshotPolicy } from './snapshots.js';
import type { StateMachine } from './state-machine.js';
import type { WriteStageObserver } from './write-stages.js';

/** pino-compatible. */
export interface NodeLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** The core's limits a node user may tune. */
export type RaftTuning = Pick<
  RaftOptions,
  | 'preVote'
  | 'checkQuorum'
  | 'maxAppendBytes'
  | 'maxInflightMessages'
  | 'maxInflightBytes'
  | 'maxUncommittedBytes'
  | 'maxApplyBytes'
  | 'maxPendingReads'
  | 'maxPromotionLag'
>;

export interface Timing {
  /** Milliseconds between a leader's heartbeats; also the node's tick. Default 100. */
  readonly heartbeatMs?: number;
  /**
   * Milliseconds without a leader before a follower campaigns; each election draws its timeout
   * from [electionMs, 2 * electionMs). At least twice `heartbeatMs`. Default 1000.
   */
  readonly electionMs?: number;
}

/** raftos's timing: 0.3 s heartbeats, a new election after five missed ones. */
export const raftosTiming: Required<Timing> = { heartbeatMs: 300, electionMs: 1500 };

export interface RaftNodeOptions<S extends StateMachine> extends Timing, SnapshotPolicy {
  /** This node's id: by convention its `host:port`. */
  readonly id: NodeId;
  /**
   * Every voting member's id, this node's included: the configuration a new cluster starts
   * with. Once the log or a snapshot holds a configuration, that one is in force instead.
   * Empty when `join` is set.
   */
  readonly members: readonly NodeId[];
  /**
   * Start with no configuration, to join a running cluster: the node knows no member until
   * a leader adds it (see `addLearner`) and sends it the log or a snapshot. Only for an empty
   * data directory. Default false.
   */
  readonly join?: boolean;
  /** Where each member listens, for `NotLeaderError.leaderAddress`. Default: its id. */
  readonly addresses?: Readonly<Record<NodeId, string>>;
  readonly storage: DurableStorage;
  readonly transport: Transport;
  readonly stateMachine: S;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Election timeouts and the incarnation number. Default: seeded from the system. */
  readonly random?: Random;
  /** A proposal made on a follower goes to the leader (default), or fails with NotLeaderError. */
  readonly forwardProposals?: boolean;
  /** Default wait for a proposal to be applied, in ms. Default 10 000. */
  readonly proposalTimeoutMs?: number;
  /** Default wait for a linearizable read, in ms. Default 10 000. */
  readonly readTimeoutMs?: number;
  readonly logger?: NodeLogger;
  readonly raft?: RaftTuning;
  /** Called when this node becomes leader (raftos's `on_leader`). */
  readonly onLeader?: (term: number) => void;
  /** Called when this node becomes a follower (raftos's `on_follower`). */
  readonly onFollower?: (leader: NodeId | null, term: number) => void;
  /** How snapshots stream to followers: piece size, window, resend and give-up times. */
  readonly snapshotTransfer?: TransferOptions;
  /**
   * How a leader serves linearizable reads: `index` (default) confirms its leadership with a
   * round of heartbeats per batch of reads (ReadIndex, thesis §6.4); `lease` serves them at
   * once while a lease holds, renewed by those rounds (thesis §6.4.1, see `reads.ts` for the
   * bound on clock drift it assumes). Needs `raft.checkQuorum` (on by default).
   */
  readonly readMode?: ReadMode;
  /**
   * Take the next Ready while earlier writes are under way (default true; see `#drain` in
   * `raft-node.ts`). Off, each Ready waits for the previous one's write: for comparing the
   * two (`bench/slow-disk.ts`).
   */
  readonly overlapWrites?: boolean;
  /** Told where the time of each of the leader's own writes went (see `write-stages.ts`). */
  readonly onWriteStage?: WriteStageObserver;
}

export type ReadMode = 'index' | 'lease';

export interface ResolvedTiming {
  readonly tickMs: number;
  readonly heartbeatTicks: 1;
  readonly electionTicks: number;
}

export const DEFAULT_HEARTBEAT_MS = 100;
export const DEFAULT_ELECTION_MS = 1000;

export function resolveTiming(t: Timing): ResolvedTiming {
  const heartbeatMs = t.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const electionMs = t.electionMs ?? DEFAULT_ELECTION_MS;
  if (!Number.isSafeInteger(heartbeatMs) || heartbeatMs < 1) {
    throw new InvalidConfigError(`heartbeatMs must be a positive integer, got ${heartbeatMs}`);
  }
  if (!Number.isSafeInteger(electionMs) || electionMs < 2 * heartbeatMs) {
    throw new InvalidConfigError(
      `electionMs must be an integer of at least twice heartbeatMs (${2 * heartbeatMs}), got ${electionMs}`,
    );
  }
  return {
    tickMs: heartbeatMs,
    heartbeatTicks: 1,
    electionTicks: Math.round(electionMs / heartbeatMs),
  };
}

export function checkNodeOptions<S extends StateMachine>(o: RaftNodeOptions<S>): void {
  if (typeof o.id !== 'string' || o.id.length === 0 || Buffer.byteLength(o.id) > MAX_ID_BYTES) {
    throw new InvalidConfigError(`id must be 1 to ${MAX_ID_BYTES} bytes, got ${String(o.id)}`);
  }
  if (o.join === true) {
    if (!Array.isArray(o.members) || o.members.length > 0) {
      throw new InvalidConfigError(
        'a node that joins a cluster is given no members: it learns them',
      );
    }
  } else if (!Array.isArray(o.members) || !o.members.includes(o.id)) {
    throw new InvalidConfigError(`members must list every voter, ${o.id} included`);
  }
  for (const m of o.members) {
    if (typeof m !== 'string' || m.length === 0 || Buffer.byteLength(m) > MAX_ID_BYTES) {
      throw new InvalidConfigError(`member ids must be 1 to ${MAX_ID_BYTES} bytes`);
    }
  }
  if (new Set(o.members).size !== o.members.length) {
    throw new InvalidConfigError(`members lists an id twice: ${o.members.join(', ')}`);
  }
  if (o.readMode !== undefined && o.readMode !== 'index' && o.readMode !== 'lease') {
    throw new InvalidConfigError(`readMode must be 'index' or 'lease', got ${String(o.readMode)}`);
  }
  if (o.readMode === 'lease' && o.raft?.checkQuorum === false) {
    throw new InvalidConfigError(
      "readMode 'lease' needs checkQuorum: without it followers do not keep the lease",
    );
  }
  if (o.transport.id !== o.id) {
    throw new InvalidConfigError(`the transport is ${o.transport.id}'s, not ${o.id}'s`);
  }
  if (typeof o.stateMachine?.apply !== 'function') {
    throw new InvalidConfigError('stateMachine must have an apply(command, index) method');
  }
  for (const key of [
    'proposalTimeoutMs',
    'readTimeoutMs',
    'snapshotEntries',
    'snapshotBytes',
  ] as const) {
    const v = o[key];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) {
      throw new InvalidConfigError(`${key} must be a positive integer, got ${v}`);
    }
  }
  const keep = o.snapshotKeepEntries;
  if (keep !== undefined && (!Number.isSafeInteger(keep) || keep < 0)) {
    throw new InvalidConfigError(`snapshotKeepEntries must be an integer >= 0, got ${keep}`);
  }
  if (maxCommandBytes(o.transport) < 1) {
    throw new InvalidConfigError(
      `the transport carries messages of ${o.transport.maxMessageBytes} bytes: too small`,
    );
  }
}

/** The largest command a proposal may carry over this transport. */
export function maxCommandBytes(transport: Transport): number {
  return transport.maxMessageBytes - MESSAGE_OVERHEAD_BYTES - COMMAND_ENVELOPE_BYTES;
}

export const silentLogger: NodeLogger = {
  info: () => {},
  warn: () => {},
  error: () => {},
};
