/**
 * @module
 * `raftkit inspect --objects`: the state of a node's replicated objects, rebuilt by applying
 * its committed log to a fresh ObjectStore (the state machine lives in memory; its log is its
 * durable form). Read only, like the rest of inspect.
 */
import { decodeCommand } from '../node/index.js';
import { ObjectStore } from '../replicated/index.js';
import { FileStorage } from '../storage/index.js';

export interface ReplayedObjects {
  readonly appliedIndex: number;
  /** Commands the store refused (not operations, or of the wrong kind), as on the node. */
  readonly refused: number;
  readonly objects: unknown;
}

export async function replayObjects(dir: string): Promise<ReplayedObjects> {
  const storage = await FileStorage.open(dir, { readOnly: true, logger: { warn() {} } });
  try {
    const store = new ObjectStore();
    const commit = Math.min(storage.hardState().commit, storage.lastIndex());
    let refused = 0;
    for (let i = storage.firstIndex(); i <= commit; ) {
      const chunk = storage.entries(i, commit + 1, 4 * 1024 * 1024);
      for (const e of chunk) {
        if (e.kind === 'noop') continue;
        const command = decodeCommand(e.data);
        try {
          if (typeof command === 'string') throw new Error(command);
          store.apply(command.payload, e.index);
        } catch {
          refused++;
        }
      }
      i += chunk.length;
    }
    const snapshot = JSON.parse(new TextDecoder().decode(store.snapshot())) as { objects: unknown };
    return { appliedIndex: commit, refused, objects: snapshot.objects };
  } finally {
    await storage.close();
  }
}
