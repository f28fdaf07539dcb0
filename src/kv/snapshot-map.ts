/**
 * @module
 * A map whose contents can be frozen at a moment in O(1), so that a snapshot can serialise
 * them a slice at a time while writes go on. While frozen, writes go to an overlay and reads
 * look there first; the frozen base is left as it was. Once the snapshot is written, the
 * overlay is folded back into the base a few entries per write (never all at once, which could
 * hold the event loop), writes going straight to the base again. Deterministic: it follows
 * the writes, not a timer, so every node and every simulated run folds identically.
 */

/** A key deleted while frozen (the base still holds it). */
const GONE: unique symbol = Symbol('gone');
type Slot<V> = V | typeof GONE;

/** Overlay entries folded into the base on each write after a snapshot. */
const FOLD_PER_WRITE = 8;

export interface FrozenView<V> {
  /** The contents as of `freeze()`; read it before `release()`. */
  entries(): IterableIterator<[string, V]>;
  /** The snapshot is done with the view: the overlay may be folded back now. */
  release(): void;
}

export class SnapshotMap<V> {
  #base = new Map<string, V>();
  /** Changes since the freeze (or not yet folded back); null when there are none. */
  #overlay: Map<string, Slot<V>> | null = null;
  #frozen = false;
  #size = 0;

  /** A map holding `base`, which it takes over: the caller must not use `base` again. */
  static adopt<V>(base: Map<string, V>): SnapshotMap<V> {
    const map = new SnapshotMap<V>();
    map.#base = base;
    map.#size = base.size;
    return map;
  }

  get size(): number {
    return this.#size;
  }

  /** Whether a frozen view is being read. */
  get frozen(): boolean {
    return this.#frozen;
  }

  get(key: string): V | undefined {
    const slot = this.#overlay?.get(key);
    if (slot !== undefined) return slot === GONE ? undefined : slot;
    return this.#base.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: V): void {
    if (!this.has(key)) this.#size++;
    this.#write(key, value);
  }

  delete(key: string): boolean {
    if (!this.has(key)) return false;
    this.#size--;
    this.#write(key, GONE);
    return true;
  }

  /** Every key and value as they are now, in no particular order. */
  *entries(): IterableIterator<[string, V]> {
    const overlay = this.#overlay;
    for (const [key, value] of this.#base) {
      if (overlay === null || !overlay.has(key)) yield [key, value];
    }
    if (overlay === null) return;
    for (const [key, slot] of overlay) if (slot !== GONE) yield [key, slot];
  }

  /**
   * Freezes the contents as they are now. Writes until `release()` leave the view unchanged.
   * One view at a time.
   */
  freeze(): FrozenView<V> {
    if (this.#frozen) throw new Error('the map is already frozen for a snapshot');
    this.#foldAll();
    this.#frozen = true;
    this.#overlay = new Map();
    const base = this.#base;
    let released = false;
    return {
      entries: () => base.entries(),
      release: () => {
        if (released) return;
        released = true;
        this.#frozen = false;
        if (this.#overlay?.size === 0) this.#overlay = null;
      },
    };
  }

  #write(key: string, slot: Slot<V>): void {
    if (this.#frozen) {
      (this.#overlay as Map<string, Slot<V>>).set(key, slot);
      return;
    }
    if (slot === GONE) this.#base.delete(key);
    else this.#base.set(key, slot);
    if (this.#overlay === null) return;
    // What the overlay held for this key is older now.
    this.#overlay.delete(key);
    this.#fold(FOLD_PER_WRITE);
  }

  /** Moves up to `count` overlay entries into the base. */
  #fold(count: number): void {
    const overlay = this.#overlay as Map<string, Slot<V>>;
    let moved = 0;
    for (const [key, slot] of overlay) {
      if (moved++ === count) break;
      if (slot === GONE) this.#base.delete(key);
      else this.#base.set(key, slot);
      overlay.delete(key);
    }
    if (overlay.size === 0) this.#overlay = null;
  }

  #foldAll(): void {
    if (this.#overlay !== null) this.#fold(Number.POSITIVE_INFINITY);
  }
}
