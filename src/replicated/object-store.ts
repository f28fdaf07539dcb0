/**
 * @module
 * The state machine behind replicated objects: named values, maps and lists, changed only by
 * operations from the log. Each operation is applied whole or not at all (it is checked before
 * anything changes), and its result goes back to the proposer. Values are deep-frozen once
 * applied, so a reader cannot change the replicated state by mutating what it was given.
 *
 * Snapshot-ready: `snapshot()` serialises every object and `restore()` rebuilds them.
 */
import { RaftError } from '../core/index.js';
import type { StateMachine } from '../node/index.js';
import { checkOperation, type ObjectKind, type Operation } from './operations.js';
import { jsonCodec, type ValueCodec } from './value-codec.js';

/** An operation that cannot be applied (bad bytes, or a list operation on a map...). */
export class InvalidOperationError extends RaftError {
  constructor(detail: string) {
    super('RAFT_INVALID_OPERATION', `invalid operation: ${detail}`);
  }
}

type Held =
  | { readonly kind: 'value'; value: unknown }
  | { readonly kind: 'map'; readonly map: Map<string, unknown> }
  | { readonly kind: 'list'; readonly list: unknown[] };

const SNAPSHOT_VERSION = 1;

export interface ObjectStoreOptions {
  /** How values are written in the log and in snapshots. Default JSON. */
  readonly codec?: ValueCodec;
}

export class ObjectStore implements StateMachine {
  readonly codec: ValueCodec;
  readonly #objects = new Map<string, Held>();

  constructor(options: ObjectStoreOptions = {}) {
    this.codec = options.codec ?? jsonCodec;
  }

  apply(command: Uint8Array, _index?: number): unknown {
    let decoded: unknown;
    try {
      decoded = this.codec.decode(command);
    } catch (e) {
      throw new InvalidOperationError(`undecodable bytes (${(e as Error).message})`);
    }
    const op = checkOperation(decoded);
    if (typeof op === 'string') throw new InvalidOperationError(op);
    return this.#apply(op);
  }

  #apply(op: Operation): unknown {
    switch (op.t) {
      case 'value': {
        const held = this.#hold(op.n, 'value', () => ({ kind: 'value', value: undefined }));
        held.value = deepFreeze(op.v);
        return undefined;
      }
      case 'map': {
        const { map } = this.#hold(op.n, 'map', () => ({ kind: 'map', map: new Map() }));
        switch (op.o) {
          case 'set':
            map.set(op.k, deepFreeze(op.v));
            return undefined;
          case 'update':
            for (const [k, v] of op.e) map.set(k, deepFreeze(v));
            return map.size;
          case 'delete':
            return map.delete(op.k);
          case 'pop': {
            const value = map.get(op.k);
            map.delete(op.k);
            return value;
          }
        }
        break;
      }
      case 'list': {
        const { list } = this.#hold(op.n, 'list', () => ({ kind: 'list', list: [] }));
        if (op.o === 'append') list.push(deepFreeze(op.v));
        else for (const v of op.vs) list.push(deepFreeze(v));
        return list.length;
      }
    }
  }

  /** The object called `name`, created on its first write; of another kind, an error. */
  #hold<K extends ObjectKind>(
    name: string,
    kind: K,
    create: () => Held,
  ): Extract<Held, { kind: K }> {
    let held = this.#objects.get(name);
    if (held === undefined) {
      held = create();
      this.#objects.set(name, held);
    } else if (held.kind !== kind) {
      throw new InvalidOperationError(`${name} is a ${held.kind}, not a ${kind}`);
    }
    return held as Extract<Held, { kind: K }>;
  }

  // -------------------------------------------------------------------------------------------
  // Reads (the replicated objects call these inside a node read)

  kindOf(name: string): ObjectKind | undefined {
    return this.#objects.get(name)?.kind;
  }

  value(name: string): unknown {
    const held = this.#read(name, 'value');
    return held?.value;
  }

  map(name: string): ReadonlyMap<string, unknown> {
    return this.#read(name, 'map')?.map ?? new Map();
  }

  list(name: string): readonly unknown[] {
    return this.#read(name, 'list')?.list ?? [];
  }

  names(): string[] {
    return [...this.#objects.keys()];
  }

  #read<K extends ObjectKind>(name: string, kind: K): Extract<Held, { kind: K }> | undefined {
    const held = this.#objects.get(name);
    if (held === undefined) return undefined;
    if (held.kind !== kind)
      throw new InvalidOperationError(`${name} is a ${held.kind}, not a ${kind}`);
    return held as Extract<Held, { kind: K }>;
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots

  /** Every object, serialised with the codec. */
  snapshot(): Uint8Array {
    const objects = [...this.#objects].map(([name, held]) => {
      if (held.kind === 'map') return [name, 'map', [...held.map]];
      if (held.kind === 'list') return [name, 'list', held.list];
      return [name, 'value', held.value === undefined ? null : held.value];
    });
    return this.codec.encode({ version: SNAPSHOT_VERSION, objects });
  }

  /** Replaces every object with those of a snapshot; on a bad snapshot nothing changes. */
  restore(bytes: Uint8Array): void {
    const restored = new Map<string, Held>();
    let data: unknown;
    try {
      data = this.codec.decode(bytes);
    } catch (e) {
      throw new InvalidOperationError(`undecodable snapshot (${(e as Error).message})`);
    }
    const snap = data as { version?: unknown; objects?: unknown };
    if (snap?.version !== SNAPSHOT_VERSION || !Array.isArray(snap.objects)) {
      throw new InvalidOperationError('not an object store snapshot of version 1');
    }
    for (const item of snap.objects) {
      if (!Array.isArray(item) || typeof item[0] !== 'string') {
        throw new InvalidOperationError('a snapshot object without a name');
      }
      const [name, kind, content] = item as [string, unknown, unknown];
      if (kind === 'value') restored.set(name, { kind, value: deepFreeze(content) });
      else if (kind === 'list' && Array.isArray(content)) {
        restored.set(name, { kind, list: content.map(deepFreeze) });
      } else if (kind === 'map' && Array.isArray(content)) {
        const map = new Map<string, unknown>();
        for (const pair of content) {
          if (!Array.isArray(pair) || typeof pair[0] !== 'string') {
            throw new InvalidOperationError(`map ${name} has a bad entry`);
          }
          map.set(pair[0], deepFreeze(pair[1]));
        }
        restored.set(name, { kind, map });
      } else throw new InvalidOperationError(`snapshot object ${name} of kind ${String(kind)}`);
    }
    this.#objects.clear();
    for (const [name, held] of restored) this.#objects.set(name, held);
  }

  /**
   * The node's snapshot: `snapshot()` taken at once (raftos-style objects are small; a large
   * state belongs in a store that freezes in O(1), as the key-value store does), then handed
   * out in slices.
   */
  takeSnapshot(): AsyncIterable<Uint8Array> {
    const bytes = this.snapshot();
    return (async function* () {
      for (let at = 0; at < bytes.byteLength; at += SNAPSHOT_SLICE_BYTES) {
        yield bytes.subarray(at, at + SNAPSHOT_SLICE_BYTES);
      }
    })();
  }

  async restoreSnapshot(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of chunks) {
      parts.push(chunk);
      size += chunk.byteLength;
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.byteLength;
    }
    this.restore(bytes);
  }
}

const SNAPSHOT_SLICE_BYTES = 64 * 1024;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
