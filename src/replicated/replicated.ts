/**
 * @module
 * `Replicated<T>`: one value, the same on every node (raftos's `Replicated`).
 */
import type { ReadOptions, WaitOptions } from '../node/index.js';
import { ReplicatedObject } from './replicated-object.js';

export class Replicated<T> extends ReplicatedObject {
  /** The value; undefined until it is first set. */
  get(options?: ReadOptions): Promise<T | undefined> {
    return this.read((s) => s.value(this.name) as T | undefined, options);
  }

  /** Sets the value; resolves once it is committed and applied on this node. */
  async set(value: T, options?: WaitOptions): Promise<void> {
    await this.write({ t: 'value', n: this.name, o: 'set', v: value }, [value], options);
  }
}
