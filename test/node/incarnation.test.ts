/**
 * A node's requests carry its incarnation (random per start), so that an answer meant for an
 * earlier life of the node can never settle a request of this one: proposals did from the
 * start; reads, whose contexts were numbered from 1 at every start, did not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TimeoutError } from '../../src/node/index.js';
import { type MemoryTransport, WireCodec, type WireMessage } from '../../src/transport/index.js';
import { encode, type ListMachine, TestCluster } from './support.js';

test('a read-index answer meant for an earlier life of a follower serves no read of this one', async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const follower = c.followers()[0];
    assert.ok(follower !== undefined);
    const id = follower.id;
    await leader.propose(encode('a'));
    await c.applied(1);
    // A linearizable read in the follower's first life: its context is the first it makes.
    await follower.read((m) => m.applied.length);
    const indexOfA = follower.status().appliedIndex;
    await follower.stop();
    c.nodes.delete(id);
    // 'b' commits while the follower is down; then the follower restarts cut off from all.
    await leader.propose(encode('b'));
    c.network.isolate(id);
    const again = await c.startNode(id);
    const transport = c.transports.get(id) as MemoryTransport;
    const inject = (m: WireMessage) =>
      transport.receive(new WireCodec({ now: () => 0 }).encode(m), leader.id);
    // It hears of the leader (a heartbeat that made it through), so it asks it for a read
    // index; that request is lost in the partition.
    const term = leader.term;
    const commit = again.status().commitIndex;
    inject({ type: 'heartbeat', from: leader.id, to: id, term, commit, round: 1 });
    await again.waitUntilLeader(leader.id, { timeoutMs: 2000 });
    const read = again
      .read((m: ListMachine) => [...m.applied], { timeoutMs: 400 })
      .catch((e: Error) => e);
    await new Promise((r) => setImmediate(r));
    // A late answer to the previous life's read arrives, with that read's context and index.
    inject({
      type: 'read-index-response',
      from: leader.id,
      to: id,
      term,
      context: '1',
      index: indexOfA,
    });
    const outcome = await read;
    // Served from that answer, the read would return ['a'] though 'b' committed before it began.
    assert.ok(
      outcome instanceof TimeoutError || (Array.isArray(outcome) && outcome.includes('b')),
      `the read returned ${JSON.stringify(outcome)}`,
    );
  } finally {
    await c.stop();
  }
});
