/**
 * The Ready order (docs/architecture.md), at the node: nothing that promises persistence (a granted vote, a
 * successful append acknowledgement) leaves before the save behind it is durable; and the
 * leader's appends leave while its own save is still running, so followers replicate, and
 * even commit, while the leader's disk is slow.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DurableStorage } from '../../src/storage/index.js';
import type { Transport, WireMessage } from '../../src/transport/index.js';
import { encode, GatedStorage, TestCluster, WatchedTransport } from './support.js';

const promises = (m: WireMessage): boolean =>
  (m.type === 'vote-response' && m.granted && !m.preVote) ||
  (m.type === 'append-response' && m.success);

test('a node whose saves never complete grants no vote and acknowledges no append', async () => {
  const c = new TestCluster(3);
  let gated: GatedStorage | undefined;
  let watched: WatchedTransport | undefined;
  await c.startNode('n1');
  await c.startNode('n2');
  await c.startNode(
    'n3',
    {},
    {
      storage: (s: DurableStorage) => {
        gated = new GatedStorage(s);
        gated.hold();
        return gated;
      },
      transport: (t: Transport) => {
        watched = new WatchedTransport(t);
        return watched;
      },
    },
  );
  try {
    assert.ok(gated !== undefined && watched !== undefined);
    const leader = await Promise.any(
      ['n1', 'n2'].map((id) => c.node(id).waitUntilLeader(id, { timeoutMs: 5000 })),
    );
    for (let i = 0; i < 5; i++) await c.node(leader).propose(encode(`v${i}`));
    assert.ok(gated.savesHeld > 0, 'n3 was never asked to save');
    assert.deepEqual(watched.sent.filter(promises), [], 'n3 promised what it had not saved');
    // Once its disk answers, it acknowledges and catches up.
    gated.release();
    await c.applied(5);
    assert.ok(watched.sent.some(promises));
  } finally {
    gated?.release(); // a node stopping waits for its save: never leave it held
    await c.stop();
  }
});

test("followers persist the leader's entries while the leader's own save is held", async () => {
  const gates = new Map<string, GatedStorage>();
  const c = new TestCluster(3);
  for (const id of c.ids) {
    await c.startNode(
      id,
      {},
      {
        storage: (s: DurableStorage) => {
          const g = new GatedStorage(s);
          gates.set(id, g);
          return g;
        },
      },
    );
  }
  try {
    const leader = await c.leader();
    // Steady state first: right after an election a follower is probed one append at a time,
    // and the next append would wait for a Ready that the held save blocks.
    await leader.propose(encode('warm-up'));
    const gate = gates.get(leader.id) as GatedStorage;
    gate.hold();
    let settled = false;
    const write = leader.propose(encode('x')).finally(() => {
      settled = true;
    });
    const index = leader.status().lastIndex;
    // The appends left before the leader's write: both followers have the entry on disk
    // while the leader's own save has not returned. (The leader takes no further Ready until
    // it does, so the commit reaches them afterwards.)
    for (const f of c.followers()) {
      const storage = gates.get(f.id) as GatedStorage;
      const deadline = performance.now() + 5000;
      while (storage.durableIndex() < index) {
        if (performance.now() > deadline) throw new Error(`${f.id} did not persist entry ${index}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    assert.ok(gate.savesHeld > 0);
    assert.equal(settled, false, 'the leader answered before its own save');
    assert.deepEqual(leader.stateMachine.applied, ['warm-up']);
    gate.release();
    assert.equal(await write, 2);
    await c.applied(2);
  } finally {
    for (const g of gates.values()) g.release();
    await c.stop();
  }
});

test('a broken contract under the node (a transport that throws) stops it with the error', async () => {
  const c = new TestCluster(3);
  const broken = new Error('send exploded');
  let armed = false;
  for (const id of c.ids) {
    await c.startNode(
      id,
      {},
      {
        transport: (t: Transport) =>
          Object.assign(new WatchedTransport(t), {
            send(m: WireMessage): void {
              if (armed && id === 'n1') throw broken;
              t.send(m);
            },
          }),
      },
    );
  }
  try {
    await c.leader();
    const n1 = c.node('n1');
    const stopped = new Promise<Error | null>((resolve) => n1.once('stopped', resolve));
    armed = true;
    assert.equal(await stopped, broken);
    assert.equal(n1.running, false);
    assert.equal(n1.failure, broken);
  } finally {
    await c.stop();
  }
});
