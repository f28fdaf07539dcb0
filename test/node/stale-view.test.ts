/**
 * Between two Readies the node's view of its role can lag the core's: the core may have
 * stepped down (a higher term arrived) while the node still waits for a save and believes it
 * leads. Found by the simulator: a proposal made then retried at once, forever, in microtasks
 * (the core refused it with "no leader known" each time), so the event loop never turned and
 * the node froze until the proposal's deadline. A proposal must instead wait for the next
 * leader, with the event loop free.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DurableStorage } from '../../src/storage/index.js';
import { type MemoryTransport, type Transport, WireCodec } from '../../src/transport/index.js';
import { encode, GatedStorage, TestCluster } from './support.js';

test('a proposal on a leader whose core stepped down waits without freezing the event loop', async () => {
  const c = new TestCluster(3);
  const gates = new Map<string, GatedStorage>();
  const transports = new Map<string, MemoryTransport>();
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
        transport: (t: Transport) => {
          transports.set(id, t as MemoryTransport);
          return t;
        },
      },
    );
  }
  try {
    const leader = await c.leader();
    await leader.propose(encode('warm-up'));
    const gate = gates.get(leader.id) as GatedStorage;
    gate.hold();
    const held = leader.propose(encode('held'), { timeoutMs: 3000 }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 10));
    // A vote request of a higher term (a transfer's, so no lease holds it back): the core steps
    // down with no leader known, while the node's loop still waits for the held save.
    const other = c.ids.find((id) => id !== leader.id) as string;
    const vote = new WireCodec({ now: () => 0 }).encode({
      type: 'vote',
      from: other,
      to: leader.id,
      term: leader.term + 5,
      preVote: false,
      lastIndex: 1000,
      lastTerm: leader.term,
      transfer: true,
    });
    transports.get(leader.id)?.receive(vote, other);
    assert.equal(leader.isLeader, true, 'the node has not yet seen the step-down');
    const proposal = leader.propose(encode('y'), { timeoutMs: 1500 }).catch((e: Error) => e);
    const started = performance.now();
    await new Promise((r) => setTimeout(r, 10));
    const blocked = performance.now() - started;
    assert.ok(blocked < 500, `the event loop was blocked for ${Math.round(blocked)} ms`);
    gate.release();
    const outcome = await proposal;
    // Whether a new leader took it or its time ran out, it settled, with a value or a typed error.
    assert.ok(
      !(outcome instanceof Error) || /leader|timed out|dropped/i.test(outcome.message),
      String(outcome),
    );
    await held;
  } finally {
    for (const g of gates.values()) g.release();
    await c.stop();
  }
});
