/**
 * @module
 * `raftkit inspect`'s state machines: rebuilt by applying a node's committed log to a fresh
 * store (state machines live in memory; the log is their durable form). Read only, like the
 * rest of inspect: it works on the directory of a running node.
 */
import { KvStore } from '../kv/index.js';
import {
  clusterIdentityOf,
  decodeCommand,
  LogClock,
  readNodeSnapshot,
  type StateMachine,
} from '../node/index.js';
import { ObjectStore } from '../replicated/index.js';
import { FileStorage } from '../storage/index.js';
import { LazyObject } from './json-stream.js';

export interface Replayed<T> {
  readonly appliedIndex: number;
  /** The snapshot the store was restored from first, or null. */
  readonly snapshotIndex: number | null;
  /** Commands applied after it. */
  readonly applied: number;
  /** Commands the store refused (not its commands, or invalid), as on the node. */
  readonly refused: number;
  /** Why the snapshot could not be restored into this kind of store, if it could not. */
  readonly foreign: string | null;
  readonly state: T;
}

/**
 * The store as the node holds it: restored from the newest snapshot, if there is one, then
 * the committed entries after it applied, as the node applies them.
 */
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
    const file = storage.snapshotFile();
    let from = storage.firstIndex();
    if (file !== null) {
      try {
        const { header, state: chunks } = await readNodeSnapshot(storage.readSnapshot(file));
        await (store.restoreSnapshot as NonNullable<S['restoreSnapshot']>).call(store, chunks);
        clock.restore(header.logTime);
        from = file.meta.index + 1;
      } catch (e) {
        return {
          appliedIndex: 0,
          snapshotIndex: file.meta.index,
          applied: 0,
          refused: 0,
          foreign: (e as Error).message,
          state: state(store),
        };
      }
    }
    for (let i = from; i <= commit; ) {
      const chunk = storage.entries(i, commit + 1, 4 * 1024 * 1024);
      for (const e of chunk) {
        // The node's own entries (no-ops, configurations, the cluster's identity) are no
        // state machine's.
        if (e.kind !== 'command' || clusterIdentityOf(e.data) !== null) continue;
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
    const snapshotIndex = file?.meta.index ?? null;
    const appliedIndex = Math.max(commit, snapshotIndex ?? 0);
    return { appliedIndex, snapshotIndex, applied, refused, foreign: null, state: state(store) };
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
  return {
    appliedIndex: r.appliedIndex,
    snapshotIndex: r.snapshotIndex,
    refused: r.refused,
    objects: r.state,
  };
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
export async function replayKv(
  dir: string,
  selection: KvSelection = {},
): Promise<{ isKv: boolean; report: Record<string, unknown> }> {
  const r = await replay(dir, new KvStore(), (store) => store);
  const store = r.state;
  // A key-value node's, when its snapshot restores as one and every command after it is one.
  const isKv = r.foreign === null && r.refused === 0 && (r.applied > 0 || r.snapshotIndex !== null);
  const summary = {
    kind: 'kv',
    appliedIndex: r.appliedIndex,
    snapshotIndex: r.snapshotIndex,
    refused: r.refused,
    applied: r.applied,
    keys: store.size,
    sessions: store.sessions.size,
  };
  if (selection.summary === true) return { isKv, report: summary };
  const prefix = selection.prefix ?? '';
  const data = new LazyObject(function* () {
    for (const pair of store.entries()) if (pair[0].startsWith(prefix)) yield pair;
  });
  return { isKv, report: { ...summary, data } };
}
