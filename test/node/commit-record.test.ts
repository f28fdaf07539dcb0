/**
 * The commit index alone is written with the next entries or at the next tick, not by a disk
 * write of its own after every commit (which the next write's fsync queued behind), and a
 * clean stop leaves it recorded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DurableStorage, StorageUpdate } from '../../src/storage/index.js';
import { FileStorage } from '../../src/storage/index.js';
import { encode, TestCluster } from './support.js';

/** Counts the saves that carry only a hard state, no entries and no fsync. */
function counting(inner: DurableStorage, counts: { commitOnly: number; all: number }) {
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (key === 'save') {
        return (u: StorageUpdate) => {
          counts.all++;
          if (u.entries.length === 0 && !u.sync && u.snapshot === undefined) counts.commitOnly++;
          return target.save(u);
        };
      }
      const v = Reflect.get(target, key, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

test("one write after another: the commit index does not take a disk write of each commit's own", async () => {
  const counts = new Map<string, { commitOnly: number; all: number }>();
  const c = await TestCluster.start(
    3,
    // Ticks far apart: a commit-only write can only come from a commit, not from the tick.
    { heartbeatMs: 200, electionMs: 2000 },
    {
      storage: (s) => {
        const n = { commitOnly: 0, all: 0 };
        counts.set(String(counts.size), n);
        return counting(s, n);
      },
    },
  );
  try {
    const leader = await c.leader(10_000);
    const before = [...counts.values()].map((n) => n.commitOnly);
    const writes = 30;
    const started = performance.now();
    for (let i = 0; i < writes; i++) await leader.propose(encode(`w${i}`));
    const ticks = Math.ceil((performance.now() - started) / 200) + 1;
    const after = [...counts.values()].map((n) => n.commitOnly);
    for (let i = 0; i < after.length; i++) {
      const commitOnly = (after[i] as number) - (before[i] as number);
      assert.ok(
        commitOnly <= ticks,
        `node ${i}: ${commitOnly} commit-only writes for ${writes} writes in ${ticks} ticks`,
      );
    }
  } finally {
    await c.stop();
  }
  // A clean stop wrote the last commit: every node's data says all 30 (and the no-op) are committed.
  for (const id of c.ids) {
    const s = await FileStorage.open(`/${id}`, { fs: c.fs, logger: { warn: () => {} } });
    assert.ok(s.hardState().commit >= 31, `${id} recorded commit ${s.hardState().commit}`);
    await s.close();
  }
});
