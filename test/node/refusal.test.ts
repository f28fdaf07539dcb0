/**
 * A leader's refusal of a forwarded proposal reaches the follower as the same typed error,
 * with its fields intact (the reason of a drop, the limit of an overload), not rebuilt from
 * the error's text.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OverloadedError, ProposalDroppedError } from '../../src/core/index.js';
import {
  type ForwardRefusal,
  type MemoryTransport,
  type Transport,
  WireCodec,
} from '../../src/transport/index.js';
import { encode, TestCluster } from './support.js';

// As the leader sends them: the error's code and typed fields, and its detail.
const REFUSALS = {
  dropped: {
    id: 1,
    code: 'RAFT_PROPOSAL_DROPPED',
    reason: 'too-large',
    limit: null,
    detail: '2000-byte command',
  },
  overloaded: {
    id: 2,
    code: 'RAFT_OVERLOADED',
    reason: null,
    limit: 'maxUncommittedBytes',
    detail: '9 bytes pending',
  },
} as const;

test('a forwarded proposal refused by the leader fails with the typed error it sent', async () => {
  const c = new TestCluster(3);
  const transports = new Map<string, MemoryTransport>();
  for (const id of c.ids) {
    await c.startNode(
      id,
      {},
      {
        transport: (t: Transport) => {
          transports.set(id, t as MemoryTransport);
          return t;
        },
      },
    );
  }
  try {
    const leader = await c.leader();
    const follower = c.followers()[0];
    assert.ok(follower !== undefined);
    // The follower's forwards are lost; the refusals come from the test, as the leader would
    // send them (requests are numbered from 1).
    c.network.isolate(follower.id);
    const refuse = (m: Omit<ForwardRefusal, 'type' | 'from' | 'to' | 'leader' | 'term'>) =>
      (transports.get(follower.id) as MemoryTransport).receive(
        new WireCodec({ now: () => 0 }).encode({
          type: 'forward-refusal',
          from: leader.id,
          to: follower.id,
          leader: leader.id,
          term: leader.term,
          ...m,
        } as ForwardRefusal),
        leader.id,
      );
    const dropped = follower.propose(encode('a'), { timeoutMs: 2000 }).catch((e: Error) => e);
    await new Promise((r) => setImmediate(r));
    refuse(REFUSALS.dropped);
    const e1 = await dropped;
    assert.ok(e1 instanceof ProposalDroppedError, String(e1));
    assert.equal(e1.reason, 'too-large');
    assert.equal(
      e1.message,
      `proposal dropped (too-large): refused by ${leader.id}: 2000-byte command`,
    );

    const overloaded = follower.propose(encode('b'), { timeoutMs: 2000 }).catch((e: Error) => e);
    await new Promise((r) => setImmediate(r));
    refuse(REFUSALS.overloaded);
    const e2 = await overloaded;
    assert.ok(e2 instanceof OverloadedError, String(e2));
    assert.equal(e2.limit, 'maxUncommittedBytes');
    assert.equal(
      e2.message,
      `overloaded (maxUncommittedBytes): refused by ${leader.id}: 9 bytes pending`,
    );
  } finally {
    await c.stop();
  }
});
