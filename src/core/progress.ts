/**
 * @module
 * What the leader knows of one follower's log, and how it sends to it.
 *
 * - `probe`: the leader does not know where the follower's log diverges. It sends one
 *   AppendEntries at a time and waits for the answer (or the next heartbeat answer) before the
 *   next, moving `next` back on each rejection.
 * - `replicate`: the follower's log matches up to `match`. The leader streams entries
 *   optimistically (`next` moves as soon as a message leaves), several messages in flight,
 *   bounded by the inflight window.
 * - `snapshot`: the follower needs entries the leader no longer holds, so the leader is
 *   sending it a snapshot (`pendingSnapshot` is its index). Nothing else is sent until the
 *   follower acknowledges the snapshot, or the transfer is reported finished or failed.
 */
import { assert } from './assert.js';
import { Inflights } from './inflights.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to match the leader's log. Invariant: match < next. */
  match: number;
  /** Index of the next entry to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In `probe`: a message is out and unanswered; send nothing more until an answer comes. */
  probeSent = false;
  /** Highest commit index this follower was told of (and can apply: never beyond what it got). */
  sentCommit = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** In `snapshot`: the index of the snapshot being sent; 0 otherwise. */
  pendingSnapshot = 0;
  readonly inflights: Inflights;

  constructor(match: number, next: number, maxInflightMessages: number, maxInflightBytes: number) {
    this.match = match;
    this.next = next;
    this.inflights = new Inflights(maxInflightMessages, maxInflightBytes);
    this.#checkInvariant();
  }

  /** Whether the leader must hold back AppendEntries to this follower for now. */
  isPaused(): boolean {
    if (this.state === 'snapshot') return true;
    return this.state === 'probe' ? this.probeSent : this.inflights.full();
  }

  /**
   * Back to probing. Leaving `snapshot`, the snapshot may well have arrived, so the probe
   * starts just after it (a rejection moves it back if not).
   */
  becomeProbe(): void {
    const after = this.state === 'snapshot' ? this.pendingSnapshot + 1 : 0;
    this.state = 'probe';
    this.probeSent = false;
    this.next = Math.max(this.match + 1, after);
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.probeSent = false;
    this.next = this.match + 1;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  /** The follower is sent the snapshot at `index`: nothing more until it answers. */
  becomeSnapshot(index: number): void {
    assert(index > this.match, () => `snapshot at ${index} for a follower matching ${this.match}`);
    this.state = 'snapshot';
    this.probeSent = false;
    this.pendingSnapshot = index;
    this.inflights.reset();
  }

  /** Accounts for an AppendEntries carrying entries up to `lastIndex` (none when equal to next - 1). */
  sentEntries(lastIndex: number, sizeBytes: number): void {
    if (this.state === 'replicate') {
      if (lastIndex >= this.next) {
        this.inflights.add(lastIndex, sizeBytes);
        this.next = lastIndex + 1;
      }
    } else {
      this.probeSent = true;
    }
  }

  /**
   * A success acknowledged everything up to `index`. Returns false for a stale answer that
   * teaches nothing new.
   */
  maybeUpdate(index: number): boolean {
    if (index <= this.match) return false;
    this.match = index;
    if (this.next <= index) this.next = index + 1;
    this.probeSent = false;
    return true;
  }

  /**
   * The follower rejected an AppendEntries whose previous index was `rejected`; `matchHint` is
   * the highest index at which the two logs may still agree. Returns false when the rejection
   * is stale (it answers an earlier message than the one that decides `next` now).
   */
  maybeDecreaseTo(rejected: number, matchHint: number): boolean {
    // While a snapshot is on its way, an answer to an earlier append teaches nothing.
    if (this.state === 'snapshot') return false;
    if (this.state === 'replicate') {
      // Everything up to `match` is acknowledged, so only a rejection above it is news.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      this.inflights.shrink();
      return true;
    }
    // In probe only the single outstanding message (previous index next - 1) counts.
    if (rejected !== this.next - 1) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    this.#checkInvariant();
    return true;
  }

  #checkInvariant(): void {
    assert(this.match < this.next, () => `progress match ${this.match} >= next ${this.next}`);
  }
}
