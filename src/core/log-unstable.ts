/**
 * @module
 * The tail of the log that is not yet on stable storage. Entries enter here when a leader
 * appends or a follower accepts them, are handed out by a Ready (`inProgress` moves past them:
 * their write has begun), and leave once the layer above reports them durable. Several writes
 * may be under way at once; entries replaced while being written are handed out again. Where
 * they overlap stable storage (a conflicting suffix was just replaced), they win.
 */
import { assert } from './assert.js';
import type { SnapshotMeta } from './snapshot.js';
import type { Entry } from './types.js';

export class UnstableLog {
  /** Index of `entries[0]`; everything below it is on stable storage. */
  offset: number;
  entries: Entry[] = [];
  /**
   * A snapshot received from the leader and not yet persisted: it replaces the log up to its
   * index (and `offset` is just after it). Null otherwise.
   */
  snapshot: SnapshotMeta | null = null;
  /** The snapshot was handed out to be written (it stays here until durable). */
  snapshotInProgress = false;
  /**
   * Index of the first entry not yet handed out to be written; from `offset` (nothing under
   * way) to just past the last entry (everything under way). Invariant: offset <= inProgress.
   */
  inProgress: number;

  constructor(offset: number) {
    this.offset = offset;
    this.inProgress = offset;
  }

  /** The log is replaced by `snapshot`: nothing before it, nothing unstable after it. */
  restore(snapshot: SnapshotMeta): void {
    this.snapshot = snapshot;
    this.snapshotInProgress = false;
    this.offset = snapshot.index + 1;
    this.inProgress = this.offset;
    this.entries = [];
  }

  /** The snapshot at `index` is durable: it is storage's now. */
  snapshotStable(index: number): void {
    if (this.snapshot?.index === index) {
      this.snapshot = null;
      this.snapshotInProgress = false;
    }
  }

  /** Entries not yet handed out to be written. */
  toWrite(): Entry[] {
    return this.entries.slice(this.inProgress - this.offset);
  }

  hasToWrite(): boolean {
    return this.offset + this.entries.length > this.inProgress;
  }

  /**
   * Entries up to (`lastIndex`, `lastTerm`) were handed out: their write is under way. If a
   * new leader's entries replaced them since the Ready was taken (a driver that steps
   * messages before it accepts), the next Ready hands out the log from the cut again.
   */
  handedOut(lastIndex: number, lastTerm: number): void {
    if (this.term(lastIndex) !== lastTerm || lastIndex < this.offset) return;
    if (lastIndex + 1 > this.inProgress) this.inProgress = lastIndex + 1;
  }

  /** Index of the last unstable entry, or undefined when there is none. */
  lastIndex(): number | undefined {
    return this.entries.length === 0 ? undefined : this.offset + this.entries.length - 1;
  }

  /** Term of the unstable entry (or snapshot) at `index`, or undefined if it is not here. */
  term(index: number): number | undefined {
    if (this.snapshot !== null && index === this.snapshot.index) return this.snapshot.term;
    return this.entries[index - this.offset]?.term;
  }

  /** Appends entries, discarding unstable ones at or after the first new index. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      for (const e of entries) this.entries.push(e);
    } else if (after <= this.offset) {
      // Replaces everything unstable and a suffix of stable storage as well.
      this.offset = after;
      this.entries = entries.slice();
    } else {
      this.entries.length = after - this.offset;
      for (const e of entries) this.entries.push(e);
    }
    // What replaced entries under way must be written again, after them.
    this.inProgress = Math.max(this.offset, Math.min(this.inProgress, after));
  }

  /** Entries `[low, high)`, all of which must be unstable. */
  slice(low: number, high: number): Entry[] {
    assert(
      low >= this.offset && high <= this.offset + this.entries.length && low <= high,
      () =>
        `unstable slice [${low}, ${high}) outside [${this.offset}, ${this.offset + this.entries.length})`,
    );
    return this.entries.slice(low - this.offset, high - this.offset);
  }

  /**
   * Entries up to `index` are durable, if the entry there still has `term`. A later leader may
   * have replaced it while it was being written; then what was written is stale and the
   * entries stay here to be written again.
   */
  stableTo(index: number, term: number): void {
    if (index < this.offset || this.term(index) !== term) return;
    assert(index < this.inProgress, () => `entry ${index} durable before it was handed out`);
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }
}
