/**
 * Membership changes on running nodes: a new, empty node added as a voter in one call (caught
 * up by snapshot, then promoted), members removed (the leader itself included: it hands off
 * and steps down), several voters replaced at once through the joint configuration, typed
 * refusals, and a removed node that says it was removed.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { MembershipChangeError, NotLeaderError } from '../../src/core/index.js';
import { encodeKvCommand, KvStore } from '../../src/kv/index.js';
import type { RaftNode } from '../../src/node/index.js';
import { encode, type ListMachine, TestCluster, WatchedTransport } from './support.js';

let cluster: TestCluster | undefined;
let stopLater: TestCluster<KvStore> | undefined;
afterEach(async () => {
  await cluster?.stop();
  await stopLater?.stop();
  cluster = undefined;
  stopLater = undefined;
});

const ids = (list: readonly { id: string }[]): string[] => list.map((m) => m.id).sort();

async function until(what: string, f: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!f()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function write(leader: RaftNode<ListMachine>, count: number, prefix: string): Promise<void> {
  for (let i = 0; i < count; i++) await leader.propose(encode(`${prefix}${i}`));
}

describe('membership changes on running nodes', () => {
  test('a new, empty node joins as a voter in one call, caught up by snapshot', async () => {
    const kv = await TestCluster.of(
      3,
      () => new KvStore(),
      { snapshotEntries: 20, snapshotKeepEntries: 0 },
      { maxSegmentBytes: 1024 },
    );
    stopLater = kv;
    const leader = await kv.leader();
    const put = (key: string, timeoutMs = 5000) =>
      leader.propose(encodeKvCommand({ op: 'put', key, value: `${key}-value` }), { timeoutMs });
    for (let i = 0; i < 60; i++) await put(`k${i}`);
    // The log is compacted behind a snapshot: only the snapshot can bring a new node up.
    await until('the leader compacts its log', () => leader.status().firstIndex > 30);
    const joiner = await kv.startJoiner('n4');
    assert.deepEqual(joiner.members().voters, [], 'it knows nobody yet');
    const result = await leader.addVoter('n4', 'n4');
    assert.deepEqual(ids(result.voters), ['n1', 'n2', 'n3', 'n4']);
    assert.deepEqual(result.learners, []);
    await put('after');
    await until(
      'the new voter applies the write after it joined',
      () => joiner.stateMachine.get('after') !== undefined,
    );
    assert.equal(joiner.stateMachine.get('k0')?.value, 'k0-value', 'from the snapshot');
    assert.ok(joiner.status().snapshotIndex > 0, 'it installed a snapshot');
    // The snapshot it was sent predates its addition, so its configuration leaves the joiner
    // out: that is no removal (`raftkit verify` found joiners stopping themselves over it).
    assert.equal(joiner.removedAt, null, 'a joiner sent an older snapshot is not removed');
    assert.deepEqual(ids(joiner.members().voters), ['n1', 'n2', 'n3', 'n4']);
    assert.deepEqual(joiner.status().members.slice().sort(), ['n1', 'n2', 'n3', 'n4']);
    // Four voters need three: with two old members stopped, nothing commits.
    const [a, b] = kv.followers().filter((n) => n.id !== 'n4');
    await a?.stop();
    await b?.stop();
    await assert.rejects(put('lost', 300), /timed out|TIMEOUT/i);
  });

  test('a removed follower is told, and the rest carry on', async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.leader();
    const victim = cluster.followers()[0] as RaftNode<ListMachine>;
    let removedAt = 0;
    victim.on('removed', (index) => {
      removedAt = index;
    });
    const result = await leader.removeMember(victim.id);
    assert.equal(ids(result.voters).includes(victim.id), false);
    await until('the removed node hears of it', () => removedAt > 0);
    assert.equal(removedAt, result.index);
    await write(leader, 3, 'two');
    assert.equal(leader.status().members.length, 2);
  });

  test('a node removed while cut off, campaigning once back, is told it is out', async () => {
    cluster = await TestCluster.start(4);
    const leader = await cluster.leader();
    const victim = cluster.followers()[0] as RaftNode<ListMachine>;
    cluster.network.isolate(victim.id);
    const result = await leader.removeMember(victim.id);
    // Long enough for the leader to forget it: nothing is sent to it any more.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(victim.removedAt, null, 'it never got the entry that removed it');
    cluster.network.heal();
    await until('the removed node is told', () => victim.removedAt !== null);
    assert.equal(victim.removedAt, result.index);
    assert.ok(leader.isLeader, 'and the leader stayed leader');
  });

  test('a removed node restarted on its old data knows at once that it was removed', async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.leader();
    const victim = cluster.followers()[0] as RaftNode<ListMachine>;
    const result = await leader.removeMember(victim.id);
    await until('the removed node hears of it', () => victim.removedAt !== null);
    await victim.stop();
    const again = await cluster.startNode(victim.id);
    assert.equal(again.removedAt, result.index, 'known from its own log, before any message');
    assert.equal(again.role, 'follower');
    await new Promise((r) => setTimeout(r, 600)); // three election timeouts
    assert.equal(again.term, victim.term, 'it never campaigned');
  });

  test("a removed member stays the leader's peer for its grace period, then is dropped", async () => {
    // The grace period once restarted at every tick, so a removed peer was never dropped.
    const watched = new Map<string, WatchedTransport>();
    const c = new TestCluster(3);
    cluster = c;
    for (const id of c.ids) {
      await c.startNode(
        id,
        {},
        {
          transport: (t) => {
            const w = new WatchedTransport(t);
            watched.set(id, w);
            return w;
          },
        },
      );
    }
    const leader = await c.leader();
    const victim = c.followers()[0] as RaftNode<ListMachine>;
    await leader.removeMember(victim.id);
    const has = () => Object.hasOwn(watched.get(leader.id)?.peers ?? {}, victim.id);
    assert.ok(has(), 'still a peer right after its removal commits: it must hear of it');
    // fastTiming: 200 ms election timeouts, so a grace of 400 ms.
    await until('the removed member is dropped', () => !has(), 3000);
  });

  test('a leader that removes itself hands off and steps down', async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.leader();
    const result = await leader.removeMember(leader.id);
    assert.deepEqual(ids(result.voters), cluster.ids.filter((i) => i !== leader.id).sort());
    await until('the old leader steps down', () => !leader.isLeader);
    cluster.nodes.delete(leader.id);
    const next = await cluster.leader();
    assert.notEqual(next.id, leader.id);
    await write(next, 2, 'new');
    await leader.stop();
  });

  test('two voters replaced at once go through the joint configuration', async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.leader();
    await cluster.startJoiner('n4');
    await cluster.startJoiner('n5');
    await leader.addLearner('n4', 'n4');
    await leader.addLearner('n5', 'n5');
    await write(leader, 3, 'j');
    const others = cluster.ids.filter((i) => i !== leader.id);
    const result = await leader.changeMembership([
      { type: 'add-voter', id: 'n4' },
      { type: 'add-voter', id: 'n5' },
      { type: 'remove', id: others[0] as string },
      { type: 'remove', id: others[1] as string },
    ]);
    assert.deepEqual(ids(result.voters), [leader.id, 'n4', 'n5'].sort());
    assert.deepEqual(result.outgoing, [], 'resolved once the joint configuration was left');
    await write(leader, 2, 'k');
    await until('n5 applied everything', () => {
      const n5 = cluster?.node('n5').stateMachine as ListMachine;
      return n5.applied.length === 5;
    });
  });

  test('a follower has its leader carry out a change, and hears its typed refusals', async () => {
    cluster = await TestCluster.start(3);
    const leader = await cluster.leader();
    const follower = cluster.followers()[0] as RaftNode<ListMachine>;
    await cluster.startJoiner('n4');
    const added = await follower.addVoter('n4', 'n4');
    assert.deepEqual(ids(added.voters), ['n1', 'n2', 'n3', 'n4'], 'as the follower applied it');
    await assert.rejects(follower.removeMember('nobody'), (e: unknown) => {
      assert.ok(e instanceof MembershipChangeError, String(e));
      assert.equal(e.reason, 'unknown-member');
      assert.match(e.message, /at the leader/);
      return true;
    });
    await follower.transferLeadership('n4', { timeoutMs: 3000 });
    assert.equal(follower.leader, 'n4');
    assert.equal(leader.isLeader, false);
  });

  test('refusals are typed: not the leader (with its address), a change in progress', async () => {
    cluster = await TestCluster.start(3, { forwardProposals: false });
    const leader = await cluster.leader();
    const follower = cluster.followers()[0] as RaftNode<ListMachine>;
    await assert.rejects(follower.removeMember(leader.id), (e: unknown) => {
      assert.ok(e instanceof NotLeaderError);
      assert.equal(e.leader, leader.id);
      assert.equal(e.leaderAddress, leader.id);
      return true;
    });
    const others = cluster.ids.filter((i) => i !== leader.id);
    const first = leader.removeMember(others[0] as string);
    await assert.rejects(leader.removeMember(others[1] as string), (e: unknown) => {
      assert.ok(e instanceof MembershipChangeError);
      assert.equal(e.reason, 'change-in-progress');
      return true;
    });
    await first;
    await assert.rejects(leader.removeMember('nobody'), (e: unknown) => {
      assert.ok(e instanceof MembershipChangeError);
      assert.equal(e.reason, 'unknown-member');
      return true;
    });
  });
});
