/**
 * @module
 * The narrow, synchronous view of stable storage that the core reads, and `MemoryStorage`, the
 * simplest implementation of it. The core never writes storage: the layer above persists what
 * a Ready hands out, then calls `advance()`.
 *
 * A log need not start at index 1: after compaction (or when created from a snapshot) its first
 * entry follows a prefix that is gone, whose last index and term are still known, so that an
 * AppendEntries following it can be checked.
 */
import { assert } from './assert.js';
import type { SnapshotMeta } from './snapshot.js';
import { type Entry, emptyHardState, entrySizeBytes, type HardState } from './types.js';

export interface LogStorage {
  /** The hard state last persisted; read once when a core starts. */
  hardState(): HardState;
  /** Index of the first entry held. `lastIndex() + 1` when the log is empty. */
  firstIndex(): number;
  /** Index of the last entry held; `firstIndex() - 1` when empty. */
  lastIndex(): number;
  /**
   * Term of the entry at `index`, for `firstIndex() - 1 <= index <= lastIndex()` (at
   * `firstIndex() - 1`, the term of the last entry compacted away, 0 for a new log).
   * Undefined outside that range.
   */
  term(index: number): number | undefined;
  /**
   * Entries `[low, high)` with `firstIndex() <= low <= high <= lastIndex() + 1`, stopping before
   * their total `entrySizeBytes` would pass `maxBytes`, but always at least one when low < high.
   * Returns a new array the caller may keep and extend.
   */
  entries(low: number, high: number, maxBytes: number): Entry[];
  /**
   * The newest durable snapshot's metadata, or null when there is none. Invariant:
   * `firstIndex() - 1 <= snapshot.index`: entries are only ever dropped behind a snapshot (some
   * may be kept behind it, for followers slightly behind). A leader sends it to a follower
   * that needs an entry it no longer holds.
   */
  snapshot(): SnapshotMeta | null;
  /**
   * The indexes of the `config` entries held, ascending: the core rebuilds the configuration
   * in force from them (and the snapshot's) when it starts, without reading the whole log.
   */
  configIndexes(): readonly number[];
}

export interface MemoryStorageInit {
  /** The snapshot the log follows (its entries compacted away). Default: none. */
  readonly snapshot?: SnapshotMeta;
  readonly hardState?: HardState;
  readonly entries?: readonly Entry[];
}

/** A `LogStorage` held in memory, with the writes the layer above performs. */
export class MemoryStorage implements LogStorage {
  #compactedIndex: number;
  #compactedTerm: number;
  #hardState: HardState;
  // #entries[i] has index #compactedIndex + 1 + i.
  #entries: Entry[] = [];
  #snapshot: SnapshotMeta | null;

  constructor(init: MemoryStorageInit = {}) {
    this.#snapshot = init.snapshot ?? null;
    this.#compactedIndex = init.snapshot?.index ?? 0;
    this.#compactedTerm = init.snapshot?.term ?? 0;
    this.#hardState = init.hardState ?? emptyHardState;
    if (init.entries !== undefined && init.entries.length > 0) this.append(init.entries);
  }

  snapshot(): SnapshotMeta | null {
    return this.#snapshot;
  }

  /**
   * Records a snapshot of the state at `meta.index`, an entry held here (the layer above took
   * it of what it applied). Nothing is dropped: `compact` does that, behind it.
   */
  createSnapshot(meta: SnapshotMeta): void {
    assert(
      this.term(meta.index) === meta.term,
      () => `snapshot at ${meta.index}@${meta.term} of an entry not held`,
    );
    assert(
      this.#snapshot === null || meta.index > this.#snapshot.index,
      () => `snapshot at ${meta.index} not newer than the one at ${this.#snapshot?.index}`,
    );
    this.#snapshot = meta;
  }

  /**
   * Installs a snapshot received from the leader (a Ready's `snapshot`). If the log holds the
   * snapshot's last entry, the entries after it are kept; otherwise the whole log goes.
   */
  installSnapshot(meta: SnapshotMeta): void {
    assert(
      this.#snapshot === null || meta.index > this.#snapshot.index,
      () => `snapshot at ${meta.index} not newer than the one at ${this.#snapshot?.index}`,
    );
    const keep = this.term(meta.index) === meta.term && meta.index <= this.lastIndex();
    this.#entries = keep ? this.#entries.slice(meta.index - this.#compactedIndex) : [];
    this.#compactedIndex = meta.index;
    this.#compactedTerm = meta.term;
    this.#snapshot = meta;
  }

  hardState(): HardState {
    return this.#hardState;
  }

  setHardState(hardState: HardState): void {
    this.#hardState = hardState;
  }

  firstIndex(): number {
    return this.#compactedIndex + 1;
  }

  lastIndex(): number {
    return this.#compactedIndex + this.#entries.length;
  }

  term(index: number): number | undefined {
    if (index === this.#compactedIndex) return this.#compactedTerm;
    return this.#entries[index - this.#compactedIndex - 1]?.term;
  }

  entries(low: number, high: number, maxBytes: number): Entry[] {
    assert(
      low >= this.firstIndex() && low <= high && high <= this.lastIndex() + 1,
      () => `entries [${low}, ${high}) outside [${this.firstIndex()}, ${this.lastIndex() + 1})`,
    );
    return sliceBytes(this.#entries, low - this.#compactedIndex - 1, high - low, maxBytes);
  }

  /**
   * Appends consecutive entries, first discarding any held at or after `entries[0].index`
   * (a conflicting suffix the new leader overwrote).
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(
      first.index > this.#compactedIndex && first.index <= this.lastIndex() + 1,
      () => `append at ${first.index} to a log of [${this.firstIndex()}, ${this.lastIndex()}]`,
    );
    this.#entries.length = first.index - this.#compactedIndex - 1;
    for (const e of entries) this.#entries.push(e);
  }

  /**
   * Discards entries up to `index`, which a snapshot must cover, keeping its term so that an
   * AppendEntries following it can still be checked.
   */
  compact(index: number): void {
    if (index <= this.#compactedIndex) return;
    assert(index <= this.lastIndex(), () => `compact to ${index} beyond last ${this.lastIndex()}`);
    assert(
      this.#snapshot !== null && index <= this.#snapshot.index,
      () =>
        `compact to ${index}, not covered by a snapshot (at ${this.#snapshot?.index ?? 'none'})`,
    );
    this.#compactedTerm = this.term(index) as number;
    this.#entries = this.#entries.slice(index - this.#compactedIndex);
    this.#compactedIndex = index;
  }

  configIndexes(): readonly number[] {
    return this.#entries.filter((e) => e.kind === 'config').map((e) => e.index);
  }

  /** Everything held, for tests and inspection. */
  allEntries(): readonly Entry[] {
    return this.#entries;
  }
}

/**
 * `count` entries of `source` from `start`, stopping before `maxBytes` is passed but keeping at
 * least one: a single entry larger than the limit must still travel.
 */
export function sliceBytes(
  source: readonly Entry[],
  start: number,
  count: number,
  maxBytes: number,
): Entry[] {
  const out: Entry[] = [];
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const e = source[start + i] as Entry;
    bytes += entrySizeBytes(e);
    if (bytes > maxBytes && out.length > 0) break;
    out.push(e);
  }
  return out;
}
