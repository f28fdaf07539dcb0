/**
 * @module
 * ReadIndex bookkeeping on the leader (thesis §6.4). Reads that arrive between two Readies share
 * one round: the leader records its commit index, sends a heartbeat carrying the round number,
 * and once a quorum has answered that round (or a later one), it is still the leader as of the
 * round's start, so every read of the round may be served at the recorded index.
 */
import { assert } from './assert.js';
import type { NodeId } from './types.js';

/** A read waiting for a read index; `from` is the leader itself or a follower that asked. */
export interface PendingRead {
  readonly from: NodeId;
  readonly context: string;
}

interface Round {
  readonly round: number;
  readonly index: number;
  readonly reads: readonly PendingRead[];
  readonly acks: Set<NodeId>;
}

export interface ReleasedRead extends PendingRead {
  readonly index: number;
}

export class ReadIndexTracker {
  readonly maxPending: number;
  #queued: PendingRead[] = [];
  #rounds: Round[] = [];
  #pendingCount = 0;
  #lastRound = 0;

  constructor(maxPending: number) {
    this.maxPending = maxPending;
  }

  /** Number of reads queued or in a round. */
  get pendingCount(): number {
    return this.#pendingCount;
  }

  /** The most recent round started; heartbeats carry it so answers confirm it. */
  get lastRound(): number {
    return this.#lastRound;
  }

  hasQueued(): boolean {
    return this.#queued.length > 0;
  }

  enqueue(read: PendingRead): void {
    assert(this.#pendingCount < this.maxPending, 'read queue overflow');
    this.#queued.push(read);
    this.#pendingCount++;
  }

  /** Moves every queued read into a new round at `index`, already acknowledged by `self`. */
  startRound(index: number, self: NodeId): number {
    assert(this.#queued.length > 0, 'a read round needs reads');
    const round = ++this.#lastRound;
    this.#rounds.push({ round, index, reads: this.#queued, acks: new Set([self]) });
    this.#queued = [];
    return round;
  }

  /**
   * `from` answered a heartbeat of `round`: it recognised this leader after every round up to
   * `round` began. Returns the reads of every round, oldest first, that now has a quorum.
   */
  acknowledge(
    from: NodeId,
    round: number,
    hasQuorum: (acks: ReadonlySet<NodeId>) => boolean,
  ): ReleasedRead[] {
    for (const r of this.#rounds) {
      if (r.round > round) break;
      r.acks.add(from);
    }
    return this.release(hasQuorum);
  }

  /** Releases rounds from the oldest while they have a quorum (a single voter has one at once). */
  release(hasQuorum: (acks: ReadonlySet<NodeId>) => boolean): ReleasedRead[] {
    const released: ReleasedRead[] = [];
    while (this.#rounds.length > 0) {
      const r = this.#rounds[0] as Round;
      if (!hasQuorum(r.acks)) break;
      this.#rounds.shift();
      for (const read of r.reads) released.push({ ...read, index: r.index });
      this.#pendingCount -= r.reads.length;
    }
    return released;
  }

  /** Forgets everything (leadership lost); returns the reads that will never be answered. */
  clear(): PendingRead[] {
    const dropped: PendingRead[] = [];
    for (const r of this.#rounds) for (const read of r.reads) dropped.push(read);
    for (const read of this.#queued) dropped.push(read);
    this.#rounds = [];
    this.#queued = [];
    this.#pendingCount = 0;
    return dropped;
  }
}
