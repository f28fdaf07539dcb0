/**
 * The write-stage breakdown (`src/node/write-stages.ts`, `raftkit_write_stage_seconds`): each
 * traced write reports its four stages in order, summing to proposed → applied; a stage a
 * later one overtook counts as zero; leadership lost forgets what was traced.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WriteStages } from '../../src/node/write-stages.js';
import { encode, TestCluster } from './support.js';

function traced() {
  let now = 0;
  const seen: [string, number][] = [];
  const stages = new WriteStages(
    (stage, seconds) => seen.push([stage, Math.round(seconds * 1e6)]),
    () => now,
  );
  return { stages, seen, at: (ms: number) => (now = ms) };
}

test('each stage runs from where the one before it ended, in milliseconds turned to seconds', () => {
  const { stages, seen, at } = traced();
  at(0);
  stages.proposed(5);
  at(1);
  stages.sent(5);
  at(3);
  stages.synced(5);
  at(6);
  stages.committed(5);
  at(10);
  stages.applied(5);
  assert.deepEqual(seen, [
    ['append', 1000],
    ['local-fsync', 2000],
    ['quorum', 3000],
    ['apply', 4000],
  ]);
  assert.equal(stages.size, 0);
});

test('a majority durable before the leader: its own fsync after the commit counts as zero', () => {
  const { stages, seen, at } = traced();
  at(0);
  stages.proposed(1);
  stages.proposed(2);
  at(1);
  stages.sent(2);
  at(2);
  stages.committed(2); // the followers were faster
  at(5);
  stages.synced(2);
  at(6);
  stages.applied(2);
  assert.equal(seen.length, 8, 'both entries report');
  assert.deepEqual(seen.slice(0, 4), [
    ['append', 1000],
    ['local-fsync', 1000],
    ['quorum', 0],
    ['apply', 4000],
  ]);
});

test('leadership lost, or the log cut and refilled: nothing traced before reports', () => {
  const { stages, seen, at } = traced();
  at(0);
  stages.proposed(3);
  stages.clear();
  stages.applied(3);
  stages.proposed(7);
  stages.proposed(7); // the same index again: the log was cut
  at(2);
  stages.applied(7);
  assert.equal(seen.filter(([s]) => s === 'apply').length, 1);
});

test('a running leader reports the stages of its writes', async () => {
  const seen = new Map<string, number>();
  const c = await TestCluster.start(3, {
    onWriteStage: (stage) => seen.set(stage, (seen.get(stage) ?? 0) + 1),
  });
  try {
    const leader = await c.leader();
    for (let i = 0; i < 5; i++) await leader.propose(encode(`w${i}`));
    for (const stage of ['append', 'local-fsync', 'quorum', 'apply']) {
      assert.ok((seen.get(stage) ?? 0) >= 5, `${stage}: ${seen.get(stage)}`);
    }
  } finally {
    await c.stop();
  }
});
