/**
 * @module
 * The configurations along a log. A configuration takes effect on a node as soon as its entry
 * is in the node's log, committed or not (thesis §4.1): the one in force is the last one in
 * the log. When a new leader's entries cut a configuration entry away, the one before it is in
 * force again. Before the first configuration entry stands the base: the snapshot's
 * membership, or the one the node was started with.
 */
import { assert } from './assert.js';
import type { Membership } from './membership.js';

interface Positioned {
  /** The index of the entry that carries `membership` (the base: the snapshot's index, or 0). */
  readonly index: number;
  readonly membership: Membership;
}

export class ConfigLog {
  // Ascending by index; the first is the base, never cut away.
  #configs: Positioned[];

  constructor(base: Membership, baseIndex: number) {
    this.#configs = [{ index: baseIndex, membership: base }];
  }

  /** The configuration in force: the last one in the log. */
  latest(): Membership {
    return (this.#configs.at(-1) as Positioned).membership;
  }

  /** The index of the entry that carries the configuration in force (the base's, if none). */
  latestIndex(): number {
    return (this.#configs.at(-1) as Positioned).index;
  }

  /** The configuration in force once the log is cut after `index`. */
  at(index: number): Membership {
    for (let i = this.#configs.length - 1; i > 0; i--) {
      const c = this.#configs[i] as Positioned;
      if (c.index <= index) return c.membership;
    }
    return (this.#configs[0] as Positioned).membership;
  }

  /** Records the configuration carried by a new last entry at `index`. */
  append(index: number, membership: Membership): void {
    assert(
      index > this.latestIndex(),
      () => `configuration entry ${index} after the one at ${this.latestIndex()}`,
    );
    this.#configs.push({ index, membership });
  }

  /** Forgets the configurations of entries at or after `index` (cut away by a new leader). */
  truncateFrom(index: number): void {
    while (this.#configs.length > 1 && (this.#configs.at(-1) as Positioned).index >= index) {
      this.#configs.pop();
    }
  }

  /** A snapshot replaced the log: its membership is the new base. */
  reset(base: Membership, baseIndex: number): void {
    this.#configs = [{ index: baseIndex, membership: base }];
  }
}
