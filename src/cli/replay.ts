/**
 * @module
 * `raftkit inspect`'s state machines: rebuilt by applying a node's committed log to a fresh
 * store (state machines live in memory; the log is their durable form). Read only, like the
 * rest of inspect: it works on the directory of a running node.
 */
import { KvStore } from '../kv/index.js';
import { decodeCommand, type StateMachine } from '../node/index.js';
import { ObjectStore } from '../replicated/index.js';
import { FileStorage } from '../storage/index.js';

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
    for (let i = storage.firstIndex(); i <= commit; ) {
      const chunk = storage.entries(i, commit + 1, 4 * 1024 * 1024);
      for (const e of chunk) {
        if (e.kind === 'noop') continue;
        const command = decodeCommand(e.data);
        try {
          if (typeof command === 'string') throw new Error(command);
          store.apply(command.payload, e.index);
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

/** The key-value store: every key with its value and the index that set it, and sessions. */
export async function replayKv(dir: string) {
  const r = await replay(dir, new KvStore(), (store) => ({
    data: Object.fromEntries(store.snapshot().data),
    sessions: store.sessions.size,
  }));
  return {
    kind: 'kv',
    appliedIndex: r.appliedIndex,
    refused: r.refused,
    applied: r.applied,
    ...r.state,
  };
}
