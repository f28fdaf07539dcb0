/**
 * Lease reads (`readMode: 'lease'`, see `src/node/reads.ts`): served without a round while the
 * lease holds, never after it, and refused without check-quorum.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidConfigError } from '../../src/core/index.js';
import { type RaftNode, systemClock } from '../../src/node/index.js';
import { leaseDurationMs } from '../../src/node/reads.js';
import { encode, type ListMachine, TestCluster, WatchedTransport } from './support.js';

const last = (m: ListMachine) => m.applied.at(-1) ?? null;

test('under a lease, reads after the first need no heartbeat round; under ReadIndex each does', async () => {
  const heartbeats: Record<string, number> = {};
  for (const readMode of ['index', 'lease'] as const) {
    const watched = new Map<string, WatchedTransport>();
    const c = await TestCluster.start(
      3,
      { readMode },
      {
        transport: (t) => {
          const w = new WatchedTransport(t);
          watched.set(t.id, w);
          return w;
        },
      },
    );
    try {
      const leader = await c.leader();
      await leader.propose(encode('x'));
      await leader.read(last); // the round that starts the lease
      const sent = watched.get(leader.id) as WatchedTransport;
      const before = sent.sent.filter((m) => m.type === 'heartbeat').length;
      const counts = leader.readCounts();
      for (let i = 0; i < 20; i++) assert.equal(await leader.read(last), 'x');
      heartbeats[readMode] = sent.sent.filter((m) => m.type === 'heartbeat').length - before;
      const after = leader.readCounts();
      if (readMode === 'lease')
        assert.ok(after.lease - counts.lease >= 15, 'most reads under the lease');
      else assert.equal(after.lease, 0);
    } finally {
      await c.stop();
    }
  }
  // Index: a round (two heartbeats) per read. Lease: only the renewals and the ticks' own.
  assert.ok((heartbeats.index as number) >= 40, `index: ${heartbeats.index} heartbeats`);
  assert.ok(
    (heartbeats.lease as number) < (heartbeats.index as number) / 2,
    `lease: ${heartbeats.lease} heartbeats, index: ${heartbeats.index}`,
  );
});

test('a leader cut off from its followers serves no read once a new leader has written', async () => {
  const c = await TestCluster.start(3, { readMode: 'lease' });
  try {
    const old = await c.leader();
    await old.propose(encode('before'));
    assert.equal(await old.read(last), 'before');
    c.network.isolate(old.id);
    // The others elect a leader of their own and write.
    const deadline = performance.now() + 5000;
    let next: RaftNode<ListMachine> | undefined;
    while (next === undefined) {
      next = [...c.nodes.values()].find((n) => n.id !== old.id && n.isLeader);
      if (performance.now() > deadline) throw new Error('no new leader');
      await new Promise((r) => setTimeout(r, 5));
    }
    await next.propose(encode('after'));
    // The old leader's lease (128 ms here) ended before the new leader could be elected: it
    // must not answer with "before" now. It steps down or times out.
    const answer = await old.read(last, { timeoutMs: 300 }).then(
      (v) => v,
      (e: Error) => e,
    );
    assert.ok(answer instanceof Error, `the cut-off leader answered ${String(answer)}`);
  } finally {
    c.network.heal();
    await c.stop();
  }
});

test('a wall clock that jumped ahead (a suspended machine) or back ends the lease', async () => {
  let skew = 0;
  const clock = { ...systemClock, wallNow: () => Date.now() + skew };
  const c = await TestCluster.start(3, { readMode: 'lease', clock });
  try {
    const leader = await c.leader();
    await leader.propose(encode('x'));
    await leader.read(last);
    const under = () => leader.readCounts().lease;
    const before = under();
    await leader.read(last);
    assert.equal(under(), before + 1, 'a read under the lease');
    for (const jump of [10_000, -10_000]) {
      skew = jump;
      const leased = under();
      assert.equal(await leader.read(last), 'x');
      assert.equal(under(), leased, `wall clock moved ${jump} ms: the read took a round`);
      // The round renewed the lease from the wall clock's new reading.
      await leader.read(last);
      assert.equal(under(), leased + 1, `after ${jump} ms, a round's lease serves again`);
    }
  } finally {
    await c.stop();
  }
});

test('the lease is two election ticks short of the timeout, less a fifth for clock drift', () => {
  assert.equal(leaseDurationMs(10, 100), 640);
  assert.equal(leaseDurationMs(2, 100), 0);
});

test('readMode lease needs check-quorum; an unknown read mode is refused', async () => {
  const c = new TestCluster(1);
  await assert.rejects(
    c.startNode('n1', { readMode: 'lease', raft: { checkQuorum: false } }),
    InvalidConfigError,
  );
  const d = new TestCluster(1);
  await assert.rejects(
    d.startNode('n1', { readMode: 'fast' as unknown as 'lease' }),
    /readMode must be 'index' or 'lease'/,
  );
});
