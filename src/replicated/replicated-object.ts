/**
 * @module
 * What every replicated object shares: its node, its name, and the two paths to the state,
 * a write that travels through the log as an operation, and a read (linearizable unless
 * `stale: true` is asked for).
 */
import { InvalidConfigError } from '../core/index.js';
import type { RaftNode, ReadOptions, WaitOptions } from '../node/index.js';
import { ObjectStore } from './object-store.js';
import { MAX_NAME_LENGTH, type Operation } from './operations.js';
import { checkJsonValue, jsonCodec } from './value-codec.js';

export abstract class ReplicatedObject {
  readonly node: RaftNode<ObjectStore>;
  readonly name: string;

  constructor(node: RaftNode<ObjectStore>, name: string) {
    if (!(node.stateMachine instanceof ObjectStore)) {
      throw new InvalidConfigError(
        'replicated objects need a node whose state machine is an ObjectStore',
      );
    }
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
      throw new InvalidConfigError(`an object name is 1 to ${MAX_NAME_LENGTH} characters`);
    }
    this.node = node;
    this.name = name;
  }

  protected get store(): ObjectStore {
    return this.node.stateMachine;
  }

  /** Proposes `op`; resolves with the store's result once applied. */
  protected async write(
    op: Operation,
    values: readonly unknown[],
    options?: WaitOptions,
  ): Promise<unknown> {
    const { codec } = this.store;
    // JSON would turn undefined into null and a Date into a string: refuse rather than alter.
    if (codec === jsonCodec) {
      for (const [i, v] of values.entries())
        checkJsonValue(v, values.length > 1 ? `value ${i}` : 'value');
    }
    return this.node.propose(codec.encode(op), options);
  }

  protected read<R>(fn: (store: ObjectStore) => R, options?: ReadOptions): Promise<R> {
    return this.node.read(fn, options);
  }
}
