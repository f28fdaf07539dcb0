/**
 * @module
 * `ReplicatedMap<V>`: string keys to values, the same on every node (raftos's
 * `ReplicatedDict`). Each change is one operation in the log; `update` with several keys is
 * applied as one, atomically.
 */
import type { ReadOptions, WaitOptions } from '../node/index.js';
import { ReplicatedObject } from './replicated-object.js';

export class ReplicatedMap<V> extends ReplicatedObject {
  get(key: string, options?: ReadOptions): Promise<V | undefined> {
    return this.read((s) => s.map(this.name).get(key) as V | undefined, options);
  }

  has(key: string, options?: ReadOptions): Promise<boolean> {
    return this.read((s) => s.map(this.name).has(key), options);
  }

  async set(key: string, value: V, options?: WaitOptions): Promise<void> {
    checkKey(key);
    await this.write({ t: 'map', n: this.name, o: 'set', k: key, v: value }, [value], options);
  }

  /** Sets several keys at once; resolves with the map's size afterwards. */
  async update(
    entries: Record<string, V> | Iterable<readonly [string, V]>,
    options?: WaitOptions,
  ): Promise<number> {
    const pairs: [string, V][] =
      Symbol.iterator in Object(entries)
        ? [...(entries as Iterable<readonly [string, V]>)].map(([k, v]) => [k, v])
        : Object.entries(entries as Record<string, V>);
    for (const [k] of pairs) checkKey(k);
    const values = pairs.map(([, v]) => v);
    return (await this.write(
      { t: 'map', n: this.name, o: 'update', e: pairs },
      values,
      options,
    )) as number;
  }

  /** Removes `key`; resolves with whether it was there. */
  async delete(key: string, options?: WaitOptions): Promise<boolean> {
    checkKey(key);
    return (await this.write(
      { t: 'map', n: this.name, o: 'delete', k: key },
      [],
      options,
    )) as boolean;
  }

  /** Removes `key`; resolves with the value it held, or undefined. */
  async pop(key: string, options?: WaitOptions): Promise<V | undefined> {
    checkKey(key);
    return (await this.write({ t: 'map', n: this.name, o: 'pop', k: key }, [], options)) as
      | V
      | undefined;
  }

  keys(options?: ReadOptions): Promise<string[]> {
    return this.read((s) => [...s.map(this.name).keys()], options);
  }

  values(options?: ReadOptions): Promise<V[]> {
    return this.read((s) => [...s.map(this.name).values()] as V[], options);
  }

  entries(options?: ReadOptions): Promise<[string, V][]> {
    return this.read((s) => [...s.map(this.name).entries()] as [string, V][], options);
  }

  size(options?: ReadOptions): Promise<number> {
    return this.read((s) => s.map(this.name).size, options);
  }
}

function checkKey(key: unknown): void {
  if (typeof key !== 'string') throw new TypeError(`map keys are strings, got ${typeof key}`);
}
