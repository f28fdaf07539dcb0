/**
 * @module
 * `raftkit inspect`'s state machines: rebuilt by applying a node's committed log to a fresh
 * store (state machines live in memory; the log is their durable form). Read only, like the
 * rest of inspect: it works on the directory of a running node.
 */
import { KvStore } from '../kv/index.js';
import { clusterIdentityOf, decodeCommand, LogClock, type StateMachine } from '../node/index.js';
import { ObjectStore } from '../replicated/index.js';
import { FileStorage } from '../storage/index.js';
import { LazyObject } from './json-stream.js';

export interface Replayed<T> {
  readonly appliedIndex: number;
  readonly applied: number;
  /** Commands the store refused (not its commands, or invalid), as on the node. */
  readonly refused: number;
  readonly state: T;
}

async function replay<S extends StateMachine, T>(
  dir: string,
  store: S,
  state: (store: S) => T,
): Promise<Replayed<T>> {
  const storage = await FileStorage.open(dir, { readOnly: true, logger: { warn() {} } });
  try {
    const commit = Math.min(storage.hardState().commit, storage.lastIndex());
    let applied = 0;
    let refused = 0;
    // The log's time, as the node computes it: the state machine sees the same.
    const clock = new LogClock();
    for (let i = storage.firstIndex(); i <= commit; ) {
      const chunk = storage.entries(i, commit + 1, 4 * 1024 * 1024);
      for (const e of chunk) {
        // The node's own entries (no-ops, the cluster's identity) are no state machine's.
        if (e.kind === 'noop' || clusterIdentityOf(e.data) !== null) continue;
        const command = decodeCommand(e.data);
        try {
          if (typeof command === 'string') throw new Error(command);
          store.apply(command.payload, e.index, clock.observe(command));
          applied++;
        } catch {
          refused++;
        }
      }
      i += chunk.length;
    }
    return { appliedIndex: commit, applied, refused, state: state(store) };
  } finally {
    await storage.close();
  }
}

/** The replicated objects (`inspect --objects`). */
export async function replayObjects(dir: string) {
  const r = await replay(dir, new ObjectStore(), (store) => {
    const snapshot = JSON.parse(new TextDecoder().decode(store.snapshot())) as { objects: unknown };
    return snapshot.objects;
  });
  return { appliedIndex: r.appliedIndex, refused: r.refused, objects: r.state };
}

/** Which part of a key-value store `inspect` prints. */
export interface KvSelection {
  /** Only keys that start with this. Default: every key. */
  readonly prefix?: string;
  /** Counts only, no keys. */
  readonly summary?: boolean;
}

/**
 * The key-value store: every key (or those selected) with its value and the index that set
 * it, and the sessions. The keys are listed as they are written out, not copied first.
 */
export async function replayKv(dir: string, selection: KvSelection = {}) {
  const r = await replay(dir, new KvStore(), (store) => store);
  const store = r.state;
  const summary = {
    kind: 'kv',
    appliedIndex: r.appliedIndex,
    refused: r.refused,
    applied: r.applied,
    keys: store.size,
    sessions: store.sessions.size,
  };
  if (selection.summary === true) return summary;
  const prefix = selection.prefix ?? '';
  return {
    ...summary,
    data: new LazyObject(function* () {
      for (const pair of store.entries()) if (pair[0].startsWith(prefix)) yield pair;
    }),
  };
}
