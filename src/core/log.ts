/**
 * @module
 * The Raft log as the core sees it: stable storage followed by the unstable tail, plus the
 * commit and apply positions. Invariant: applied <= committed <= lastIndex, and
 * firstIndex - 1 <= applied except while a snapshot received from the leader waits to be
 * persisted: it then stands for the whole log up to its index, and nothing is handed out to
 * apply until the layer above has restored it (`snapshotApplied`).
 */
import { assert } from './assert.js';
import { decodeConfig, membershipOf } from './config-entry.js';
import { ConfigLog } from './config-log.js';
import { type LogStorage, sliceBytes } from './log-storage.js';
import { UnstableLog } from './log-unstable.js';
import type { Membership } from './membership.js';
import type { SnapshotMeta } from './snapshot.js';
import { type Entry, entrySizeBytes } from './types.js';

export interface LogPosition {
  readonly index: number;
  readonly term: number;
}

/** A read-only view of a core's log, stable and unstable parts together (for inspection). */
export interface LogView {
  firstIndex(): number;
  lastIndex(): number;
  /** Term at `index`, or undefined when compacted away or beyond the log. */
  term(index: number): number | undefined;
  /** Entries `[low, high)` within `maxBytes` (at least one when low < high). */
  slice(low: number, high: number, maxBytes: number): Entry[];
}

export class RaftLog implements LogView {
  readonly storage: LogStorage;
  readonly unstable: UnstableLog;
  /** Highest index known to be committed. Never decreases. */
  committed: number;
  /** Highest index the state machine has applied. Invariant: applied <= applying <= committed. */
  applied: number;
  /** Highest index handed out to be applied (by a Ready not yet advanced). */
  applying: number;
  /** The configurations along the log; the last one is in force. */
  readonly configs: ConfigLog;

  /** `initial` is the membership before any configuration entry or snapshot (a new cluster's). */
  constructor(storage: LogStorage, applied: number, initial: Membership) {
    this.storage = storage;
    this.configs = loadConfigs(storage, initial);
    this.unstable = new UnstableLog(storage.lastIndex() + 1);
    const commit = storage.hardState().commit;
    // A hard state whose commit is outside the log means storage is corrupt: refuse to run.
    assert(
      commit >= storage.firstIndex() - 1 && commit <= storage.lastIndex(),
      () =>
        `stored commit ${commit} outside the stored log [${storage.firstIndex()}, ${storage.lastIndex()}]`,
    );
    this.committed = commit;
    assert(
      applied >= storage.firstIndex() - 1 && applied <= commit,
      () => `applied ${applied} outside [${storage.firstIndex() - 1}, ${commit}]`,
    );
    this.applied = applied;
    this.applying = applied;
  }

  firstIndex(): number {
    const pending = this.unstable.snapshot;
    return pending === null ? this.storage.firstIndex() : pending.index + 1;
  }

  lastIndex(): number {
    return this.unstable.lastIndex() ?? this.unstable.snapshot?.index ?? this.storage.lastIndex();
  }

  /** The last index known durable: everything below the unstable tail. */
  persistedIndex(): number {
    return this.unstable.offset - 1;
  }

  /** Term at `index`, or undefined when the index is compacted away or beyond the log. */
  term(index: number): number | undefined {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    if (index >= this.unstable.offset - (this.unstable.snapshot === null ? 0 : 1)) {
      return this.unstable.term(index);
    }
    return this.storage.term(index);
  }

  /**
   * A snapshot from the leader, newer than the commit index and not matching the log, replaces
   * the log: nothing before it, nothing after it, committed up to its index.
   */
  restore(snapshot: SnapshotMeta): void {
    assert(
      snapshot.index > this.committed,
      () => `restoring a snapshot at ${snapshot.index}, not beyond commit ${this.committed}`,
    );
    this.unstable.restore(snapshot);
    this.configs.reset(snapshotMembership(snapshot), snapshot.index);
    this.committed = snapshot.index;
  }

  /** The pending snapshot at `index` is durable, and the state machine restored from it. */
  snapshotApplied(index: number): void {
    this.unstable.snapshotStable(index);
    if (index > this.applied) this.applied = index;
    if (index > this.applying) this.applying = index;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) as number;
  }

  lastPosition(): LogPosition {
    const index = this.lastIndex();
    return { index, term: this.term(index) as number };
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Whether a log ending at (`index`, `term`) is at least as up to date as ours (§5.4.1). */
  isUpToDate(index: number, term: number): boolean {
    const lastTerm = this.lastTerm();
    return term > lastTerm || (term === lastTerm && index >= this.lastIndex());
  }

  /**
   * The index of the first of `entries` whose term differs from ours at that index (or that we
   * do not have), or 0 when we hold them all.
   */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The last position at or below `index` whose term is at most `term`: no index above it can
   * match a log whose entry at `index` has `term` (terms never decrease along a log). Used on
   * both sides of fast backtracking.
   */
  findConflictByTerm(index: number, term: number): LogPosition {
    let i = Math.min(index, this.lastIndex());
    const floor = this.firstIndex() - 1;
    for (; i > floor; i--) {
      const t = this.term(i) as number;
      if (t <= term) return { index: i, term: t };
    }
    return { index: floor, term: this.term(floor) ?? 0 };
  }

  /**
   * Follower side of AppendEntries: if our entry at `prevIndex` has `prevTerm`, adopts
   * `entries` (truncating only on a real conflict, never because a message is shorter or
   * stale), advances the commit index, and returns the last index now known to match.
   * Returns undefined when the logs do not match at `prevIndex`.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    commit: number,
    entries: readonly Entry[],
  ): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(
        conflict > this.committed,
        () => `conflict at ${conflict} <= commit ${this.committed}`,
      );
      this.append(entries.slice(conflict - prevIndex - 1));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Appends after, or over a suffix of, the log. Committed entries are never overwritten. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(
      first.index > this.committed && first.index <= this.lastIndex() + 1,
      () => `append at ${first.index}: commit ${this.committed}, last ${this.lastIndex()}`,
    );
    this.unstable.truncateAndAppend(entries);
    // A configuration cut away here is undone: the one before it is in force again.
    this.configs.truncateFrom(first.index);
    for (const e of entries) if (e.kind === 'config') this.configs.append(e.index, configOf(e));
  }

  /** Entries `[low, high)` within `maxBytes` (at least one when low < high). */
  slice(low: number, high: number, maxBytes: number): Entry[] {
    assert(
      low >= this.firstIndex() && low <= high && high <= this.lastIndex() + 1,
      () => `slice [${low}, ${high}) outside [${this.firstIndex()}, ${this.lastIndex() + 1})`,
    );
    if (low === high) return [];
    const offset = this.unstable.offset;
    if (low >= offset) {
      return sliceBytes(this.unstable.entries, low - offset, high - low, maxBytes);
    }
    const stored = this.storage.entries(low, Math.min(high, offset), maxBytes);
    if (high <= offset || stored.length < offset - low) return stored;
    // The range spans stable storage and the unstable tail: fill the rest of the byte budget.
    let bytes = 0;
    for (const e of stored) bytes += entrySizeBytes(e);
    for (let i = offset; i < high; i++) {
      const e = this.unstable.entries[i - offset] as Entry;
      bytes += entrySizeBytes(e);
      if (bytes > maxBytes) break;
      stored.push(e);
    }
    return stored;
  }

  /**
   * Committed entries not yet handed out to apply, up to `maxBytes` (at least one if any);
   * with `durableOnly`, none beyond what is durable here.
   */
  nextCommitted(maxBytes: number, durableOnly: boolean): Entry[] {
    return this.slice(this.applying + 1, this.#applyLimit(durableOnly) + 1, maxBytes);
  }

  /** Whether entries wait to be applied: none while a snapshot waits to be restored. */
  hasNextCommitted(durableOnly: boolean): boolean {
    return this.unstable.snapshot === null && this.#applyLimit(durableOnly) > this.applying;
  }

  #applyLimit(durableOnly: boolean): number {
    return durableOnly ? Math.min(this.committed, this.persistedIndex()) : this.committed;
  }

  /** Committed entries up to `index` were handed out to be applied. */
  applyingTo(index: number): void {
    assert(
      index > this.applying && index <= this.committed,
      () => `applying ${index} outside (${this.applying}, ${this.committed}]`,
    );
    this.applying = index;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), () => `commit ${index} beyond last ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Leader's commit rule: commits `index` only if its entry is of the current `term` (§5.4.2). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    assert(
      index >= this.applied && index <= this.applying,
      () => `applied ${index} outside [${this.applied}, ${this.applying}]`,
    );
    this.applied = index;
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }
}

function configOf(e: Entry): Membership {
  const m = decodeConfig(e.data);
  assert(typeof m !== 'string', () => `configuration entry ${e.index}: ${m as string}`);
  return m as Membership;
}

function snapshotMembership(snapshot: SnapshotMeta): Membership {
  const m = membershipOf(snapshot.membership);
  assert(typeof m !== 'string', () => `snapshot at ${snapshot.index}: ${m as string}`);
  return m as Membership;
}

/** The configurations a stored log holds, after its snapshot's (or `initial` without one). */
function loadConfigs(storage: LogStorage, initial: Membership): ConfigLog {
  const snapshot = storage.snapshot();
  const baseIndex = snapshot?.index ?? 0;
  const configs = new ConfigLog(
    snapshot === null ? initial : snapshotMembership(snapshot),
    baseIndex,
  );
  for (const index of storage.configIndexes()) {
    if (index <= baseIndex) continue;
    const e = storage.entries(index, index + 1, Number.POSITIVE_INFINITY)[0] as Entry;
    assert(e.kind === 'config', () => `entry ${index} is listed as a configuration entry`);
    configs.append(index, configOf(e));
  }
  return configs;
}
