/**
 * @module
 * `ReplicatedList<V>`: an append-only list, the same on every node (raftos's `ReplicatedList`).
 */
import type { ReadOptions, WaitOptions } from '../node/index.js';
import { ReplicatedObject } from './replicated-object.js';

export class ReplicatedList<V> extends ReplicatedObject {
  /** Appends one value; resolves with the new length. */
  async append(value: V, options?: WaitOptions): Promise<number> {
    return (await this.write(
      { t: 'list', n: this.name, o: 'append', v: value },
      [value],
      options,
    )) as number;
  }

  /** Appends several values as one operation; resolves with the new length. */
  async extend(values: Iterable<V>, options?: WaitOptions): Promise<number> {
    const vs = [...values];
    return (await this.write({ t: 'list', n: this.name, o: 'extend', vs }, vs, options)) as number;
  }

  /** The value at `index`; a negative index counts from the end, as in Python. */
  at(index: number, options?: ReadOptions): Promise<V | undefined> {
    if (!Number.isInteger(index))
      return Promise.reject(new TypeError(`index ${index} is not an integer`));
    return this.read((s) => s.list(this.name).at(index) as V | undefined, options);
  }

  length(options?: ReadOptions): Promise<number> {
    return this.read((s) => s.list(this.name).length, options);
  }

  /** A copy of `[start, end)`, with Array.prototype.slice's rules for negative bounds. */
  slice(start?: number, end?: number, options?: ReadOptions): Promise<V[]> {
    return this.read((s) => s.list(this.name).slice(start, end) as V[], options);
  }
}
