/**
 * A leader's refusal of a forwarded proposal reaches the follower as the same typed error,
 * with its fields intact (the reason of a drop, the limit of an overload), not rebuilt from
 * the error's text.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OverloadedError, ProposalDroppedError } from '../../src/core/index.js';
import { encodeTagged } from '../../src/node/command.js';
import { type ForwardRefusal, type MemoryTransport, WireCodec } from '../../src/transport/index.js';
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
  const c = await TestCluster.start(3);
  const transports = c.transports;
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

test('a proposal forwarded to a leader that vanished fails as superseded once the next leader commits', async () => {
  const c = await TestCluster.start(3);
  try {
    const leader = await c.leader();
    const follower = c.followers()[0];
    assert.ok(follower !== undefined);
    // The leader is cut off: the forward is lost with it, and the other two elect a new one.
    c.network.isolate(leader.id);
    const started = performance.now();
    const outcome = await follower
      .propose(encode('lost'), { timeoutMs: 10_000 })
      .catch((e: Error) => e);
    const ms = performance.now() - started;
    assert.ok(outcome instanceof ProposalDroppedError, String(outcome));
    assert.equal(outcome.reason, 'superseded');
    // Known when the new leader's first entry applies (an election: about 200-400 ms here),
    // not when the 10 s timeout runs out.
    assert.ok(ms < 3000, `${Math.round(ms)} ms`);
    assert.notEqual(follower.leader, leader.id);
    // Nothing was applied for it, and a retry goes through.
    assert.equal(await follower.propose(encode('again')), 1);
  } finally {
    await c.stop();
  }
});

test('a leader refuses a proposal forwarded for another of its terms', async () => {
  const c = await TestCluster.start(3);
  const transports = c.transports;
  try {
    const leader = await c.leader();
    const follower = c.followers()[0];
    assert.ok(follower !== undefined);
    const before = leader.status().lastIndex;
    const sent: unknown[] = [];
    const watched = transports.get(leader.id) as MemoryTransport;
    const send = watched.send.bind(watched);
    watched.send = (m) => {
      if (m.type === 'forward-refusal') sent.push(m);
      send(m);
    };
    watched.receive(
      new WireCodec({ now: () => 0 }).encode({
        type: 'forward',
        from: follower.id,
        to: leader.id,
        id: 5,
        term: leader.term - 1,
        commands: [encodeTagged(encode('late'), follower.id, 1, 5)],
      }),
      follower.id,
    );
    assert.equal(leader.status().lastIndex, before, 'nothing appended');
    assert.equal(sent.length, 1);
    assert.deepEqual((sent[0] as ForwardRefusal).reason, 'superseded');
  } finally {
    await c.stop();
  }
});
