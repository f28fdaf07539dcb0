/**
 * @module
 * The simulator's randomness. One seed makes a run; every part of the run (the fault
 * schedule, the network, the disks, each node, the clients) draws from its own stream forked
 * from that seed by name, so that a part drawing more or fewer numbers does not shift what
 * the others draw.
 */
import { type Random, seededRandom } from '../core/index.js';

export class SimRandom implements Random {
  readonly seed: number;
  readonly #source: Random;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#source = seededRandom(this.seed);
  }

  /** A uniformly distributed integer in [0, bound). */
  int(bound: number): number {
    return this.#source.int(bound);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.#source.int(0x1_0000_0000) / 0x1_0000_0000;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  /** An integer in [low, high]. */
  between(low: number, high: number): number {
    return low + this.int(high - low + 1);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** `count` distinct items, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
    }
    return pool.slice(0, count);
  }

  /** An independent stream named `name`, derived from this one's seed (not its position). */
  fork(name: string): SimRandom {
    let h = this.seed ^ 0x811c9dc5;
    for (let i = 0; i < name.length; i++) {
      h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
    }
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
    return new SimRandom((h ^ (h >>> 15)) >>> 0);
  }
}
