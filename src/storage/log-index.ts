/**
 * @module
 * Where each live entry of the write-ahead log lies, in 8 bytes per entry: its record's offset
 * and length (two growable `Uint32Array`s). Terms and segments change rarely along a log, so
 * they are kept as runs (first index of the run, value), found by binary search. Memory is
 * what the issue allows: an index of a few bytes per entry, not the entries themselves.
 */
import { assert } from '../core/assert.js';

/** Runs of a value along the log: `starts[k]` is the first index having `values[k]`. */
class Runs {
  readonly starts: number[] = [];
  readonly values: number[] = [];

  /** Records that `index` (greater than every start so far) has `value`. */
  push(index: number, value: number): void {
    if (this.values.at(-1) === value) return;
    this.starts.push(index);
    this.values.push(value);
  }

  /** Value at `index`, which must be at or after the first run's start. */
  at(index: number): number {
    const { starts, values } = this;
    let low = 0;
    let high = starts.length - 1;
    if ((starts[high] as number) <= index) return values[high] as number; // the common case
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((starts[mid] as number) <= index) low = mid;
      else high = mid - 1;
    }
    return values[low] as number;
  }

  /** Forgets the runs that end before `index`; the run holding `index` now starts there. */
  dropBefore(index: number): void {
    let keep = 0;
    while (keep + 1 < this.starts.length && (this.starts[keep + 1] as number) <= index) keep++;
    this.starts.splice(0, keep);
    this.values.splice(0, keep);
    if (this.starts.length > 0 && (this.starts[0] as number) < index) this.starts[0] = index;
  }

  /** Forgets every run starting at or after `index`. */
  cutFrom(index: number): void {
    while (this.starts.length > 0 && (this.starts.at(-1) as number) >= index) {
      this.starts.pop();
      this.values.pop();
    }
  }
}

export interface EntryLocation {
  readonly sequence: number;
  readonly offset: number;
  readonly length: number;
}

export class LogIndex {
  /** Index of the first entry; the log is empty when `last < first`. */
  first: number;
  /** Term of the entry at `first - 1` (0 for a log that starts at 1). */
  prevTerm: number;
  #last: number;
  #offsets = new Uint32Array(1024);
  #lengths = new Uint32Array(1024);
  #terms = new Runs();
  #segments = new Runs();
  /** Indexes of the configuration entries, ascending: few, and needed whole at every start. */
  #configs: number[] = [];

  constructor(first: number, prevTerm: number) {
    this.first = first;
    this.prevTerm = prevTerm;
    this.#last = first - 1;
  }

  get last(): number {
    return this.#last;
  }

  /** Term at `index` for `first - 1 <= index <= last`, else undefined. */
  term(index: number): number | undefined {
    if (index === this.first - 1) return this.prevTerm;
    if (index < this.first || index > this.#last) return undefined;
    return this.#terms.at(index);
  }

  location(index: number): EntryLocation {
    assert(index >= this.first && index <= this.#last, () => `no entry ${index} in the index`);
    const slot = index - this.first;
    return {
      sequence: this.#segments.at(index),
      offset: this.#offsets[slot] as number,
      length: this.#lengths[slot] as number,
    };
  }

  /** Record length of entry `index` (header included). */
  length(index: number): number {
    return this.#lengths[index - this.first] as number;
  }

  /** Indexes of the configuration entries held, ascending. */
  configIndexes(): readonly number[] {
    return this.#configs;
  }

  append(index: number, term: number, location: EntryLocation, config = false): void {
    assert(index === this.#last + 1, () => `index ${index} appended after ${this.#last}`);
    const slot = index - this.first;
    if (slot >= this.#offsets.length) this.#grow();
    this.#offsets[slot] = location.offset;
    this.#lengths[slot] = location.length;
    this.#terms.push(index, term);
    this.#segments.push(index, location.sequence);
    if (config) this.#configs.push(index);
    this.#last = index;
  }

  /** Forgets entries from `from` on. */
  truncateFrom(from: number): void {
    assert(from >= this.first && from <= this.#last + 1, () => `truncate at ${from}`);
    this.#last = from - 1;
    this.#terms.cutFrom(from);
    this.#segments.cutFrom(from);
    while ((this.#configs.at(-1) ?? 0) >= from) this.#configs.pop();
  }

  /**
   * Forgets the entries before `first` (their segments were deleted behind a snapshot); the
   * term of the entry just before it stays known.
   */
  dropBefore(first: number): void {
    assert(first >= this.first && first <= this.#last + 1, () => `drop before ${first}`);
    if (first === this.first) return;
    const prevTerm = this.term(first - 1) as number;
    const shift = first - this.first;
    const used = this.#last - this.first + 1;
    this.#offsets.copyWithin(0, shift, used);
    this.#lengths.copyWithin(0, shift, used);
    this.first = first;
    this.prevTerm = prevTerm;
    this.#terms.dropBefore(first);
    this.#segments.dropBefore(first);
    this.#configs = this.#configs.filter((i) => i >= first);
  }

  /** An empty log that continues after (`last`, `term`): a snapshot replaced the log. */
  reset(last: number, term: number): void {
    this.first = last + 1;
    this.prevTerm = term;
    this.#last = last;
    this.#terms = new Runs();
    this.#segments = new Runs();
    this.#configs = [];
  }

  /** Bytes held, for the memory figures of the storage benchmark. */
  memoryBytes(): number {
    return this.#offsets.byteLength + this.#lengths.byteLength;
  }

  #grow(): void {
    const offsets = new Uint32Array(this.#offsets.length * 2);
    const lengths = new Uint32Array(this.#lengths.length * 2);
    offsets.set(this.#offsets);
    lengths.set(this.#lengths);
    this.#offsets = offsets;
    this.#lengths = lengths;
  }
}
