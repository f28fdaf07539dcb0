/**
 * RaftNode on in-process clusters: election, proposals and their results, forwarding, reads,
 * events, stop and restart, and failures of the disk and of the state machine.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotLeaderError, ProposalDroppedError } from '../../src/core/index.js';
import { AbortedError, NodeStoppedError, TimeoutError } from '../../src/node/index.js';
import { StorageFailedError } from '../../src/storage/index.js';
import { encode, TestCluster } from './support.js';

test('three nodes elect one leader and every node knows it', async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const seen = await Promise.all(
      c.ids.map((id) => c.node(id).waitUntilLeader(undefined, { timeoutMs: 2000 })),
    );
    assert.deepEqual(seen, [leader.id, leader.id, leader.id]);
    assert.equal(await c.node('n1').waitUntilLeader(leader.id, { timeoutMs: 2000 }), leader.id);
    assert.equal(c.followers().length, 2);
    for (const n of c.nodes.values()) assert.equal(n.getLeader(), leader.id);
  } finally {
    await c.stop();
  }
});

test('a proposal resolves with the state machine result, applied once everywhere in order', async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => leader.propose(encode(`v${i}`))),
    );
    assert.deepEqual(
      results,
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    await c.applied(50);
    const expected = Array.from({ length: 50 }, (_, i) => `v${i}`);
    for (const n of c.nodes.values()) assert.deepEqual(n.stateMachine.applied, expected);
  } finally {
    await c.stop();
  }
});

test('a follower forwards a write to the leader and resolves with its own applied result', async () => {
  const c = await TestCluster.start(3);
  try {
    await c.leader();
    const follower = c.followers()[0];
    assert.ok(follower !== undefined);
    assert.equal(await follower.propose(encode('from a follower')), 1);
    assert.equal(await follower.propose(encode('again')), 2);
    await c.applied(2);
    for (const n of c.nodes.values())
      assert.deepEqual(n.stateMachine.applied, ['from a follower', 'again']);
  } finally {
    await c.stop();
  }
});

test('with forwarding off a follower refuses a write with the leader address', async () => {
  const c = await TestCluster.start(3, {
    forwardProposals: false,
    addresses: { n1: '127.0.0.1:1', n2: '127.0.0.1:2', n3: '127.0.0.1:3' },
  });
  try {
    const leader = await c.leader();
    const follower = c.followers()[0];
    assert.ok(follower !== undefined);
    await assert.rejects(follower.propose(encode('x')), (e: unknown) => {
      assert.ok(e instanceof NotLeaderError);
      assert.equal(e.leader, leader.id);
      assert.equal(e.leaderAddress, `127.0.0.1:${leader.id.slice(1)}`);
      return true;
    });
  } finally {
    await c.stop();
  }
});

test('a linearizable read on a follower sees a write acknowledged just before', async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    for (let i = 0; i < 20; i++) {
      await leader.propose(encode(`w${i}`));
      for (const follower of c.followers()) {
        const seen = await follower.read((sm) => sm.applied.length);
        assert.equal(seen, i + 1, `follower ${follower.id} read a stale state`);
      }
    }
    const stale = await c.followers()[0]?.read((sm) => sm.applied.length, { stale: true });
    assert.equal(typeof stale, 'number');
  } finally {
    await c.stop();
  }
});

test('an isolated leader cannot serve a linearizable read; a new leader takes over', async () => {
  const c = await TestCluster.start(3);
  try {
    const old = await c.leader();
    await old.propose(encode('before'));
    c.network.isolate(old.id);
    // Still leader for a moment: it takes the write, but can neither commit it nor serve a read.
    assert.equal(old.isLeader, true);
    const write = old.propose(encode('lost'), { timeoutMs: 5000 });
    await assert.rejects(
      old.read(() => 1, { timeoutMs: 300 }),
      (e: unknown) => e instanceof TimeoutError || e instanceof NotLeaderError,
    );
    const others = [...c.nodes.values()].filter((n) => n !== old);
    const next = await Promise.any(
      others.map((n) =>
        n
          .waitUntilLeader(undefined, { timeoutMs: 3000 })
          .then((id) => (id === old.id ? Promise.reject(new Error('old')) : id)),
      ),
    );
    assert.notEqual(next, old.id);
    assert.equal(await c.node(next).propose(encode('after')), 2);
    c.network.heal();
    // The old leader's entry is replaced by the new leader's: its proposal fails, never applies.
    await assert.rejects(
      write,
      (e: unknown) => e instanceof ProposalDroppedError && e.reason === 'superseded',
    );
    await c.applied(2);
    for (const n of c.nodes.values()) assert.deepEqual(n.stateMachine.applied, ['before', 'after']);
  } finally {
    await c.stop();
  }
});

test('role and leader events, and the raftos-style callbacks, follow leadership', async () => {
  const leaders: string[] = [];
  const followers: string[] = [];
  const c = new TestCluster(3, {});
  const events: string[] = [];
  for (const id of c.ids) {
    const n = await c.startNode(id, {
      onLeader: () => leaders.push(id),
      onFollower: () => followers.push(id),
    });
    n.on('leader', (leader) => events.push(`${id} sees ${leader}`));
  }
  try {
    const leader = await c.leader();
    await c.node(leader.id).propose(encode('x'));
    assert.deepEqual(leaders, [leader.id]);
    for (const id of c.ids)
      assert.ok(events.includes(`${id} sees ${leader.id}`), events.join('; '));
    const other = c.followers()[0];
    assert.ok(other !== undefined);
    await leader.transferLeadership(other.id, { timeoutMs: 3000 });
    await c.node(other.id).waitUntilLeader(other.id, { timeoutMs: 3000 });
    assert.deepEqual(leaders, [leader.id, other.id]);
    assert.ok(followers.includes(leader.id));
  } finally {
    await c.stop();
  }
});

test('stop fails what is pending, and a restarted node replays its log and keeps its vote', async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    for (let i = 0; i < 10; i++) await leader.propose(encode(`v${i}`));
    await c.applied(10);
    const follower = c.followers()[0];
    assert.ok(follower !== undefined);
    const term = follower.term;
    const pending = follower.waitUntilLeader('nobody');
    const controller = new AbortController();
    const aborted = follower.waitUntilLeader('nobody', { signal: controller.signal });
    controller.abort();
    await assert.rejects(aborted, AbortedError);
    await assert.rejects(follower.waitUntilLeader('nobody', { timeoutMs: 50 }), TimeoutError);
    await follower.stop();
    await assert.rejects(pending, NodeStoppedError);
    await assert.rejects(follower.propose(encode('late')), NodeStoppedError);
    const again = await c.startNode(follower.id);
    assert.ok(again.term >= term, 'term went backwards on restart');
    await leader.propose(encode('v10'));
    await c.applied(11);
    assert.deepEqual(
      again.stateMachine.applied,
      Array.from({ length: 11 }, (_, i) => `v${i}`),
    );
  } finally {
    await c.stop();
  }
});

test('a failed fsync stops the node with the storage error; the others go on', async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    await leader.propose(encode('a'));
    const stopped = new Promise<Error | null>((resolve) => leader.once('stopped', resolve));
    // The leader's next fsync, whichever file it is for (the log's, or the cluster identity's).
    const eio = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    c.fs.injectFault('sync', eio, `/${leader.id}`);
    await assert.rejects(leader.propose(encode('b'), { timeoutMs: 3000 }), NodeStoppedError);
    const reason = await stopped;
    assert.ok(reason instanceof StorageFailedError, String(reason));
    assert.equal(leader.running, false);
    assert.ok(leader.failure instanceof StorageFailedError);
    const next = await c.leader();
    assert.notEqual(next.id, leader.id);
    await next.propose(encode('c'));
  } finally {
    await c.stop();
  }
});

test('a throwing state machine rejects that proposal only; a too-large command is refused', async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    await assert.rejects(leader.propose(encode('fail')), /refused "fail"/);
    assert.equal(await leader.propose(encode('ok')), 1);
    const huge = new Uint8Array(leader.maxCommandBytes + 1);
    await assert.rejects(
      leader.propose(huge),
      (e: unknown) => e instanceof ProposalDroppedError && e.reason === 'too-large',
    );
    await c.applied(1);
  } finally {
    await c.stop();
  }
});
