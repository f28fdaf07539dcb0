import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NotLeaderError, OverloadedError } from '../../src/core/index.js';
import { Cluster } from './harness.js';

describe('ReadIndex (thesis §6.4)', () => {
  test('a leader serves a read at its commit index once a quorum confirms its leadership', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    const written = c.propose('a', 'x');
    c.raw('a').readIndex('r1');
    c.processReadies();
    assert.deepEqual(c.get('a').readStates, [], 'not before the heartbeat round is answered');
    c.stabilize();
    assert.deepEqual(c.get('a').readStates, [{ context: 'r1', index: written }]);
  });

  test('reads between two Readies share one heartbeat round', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    c.sent.length = 0;
    for (let i = 0; i < 5; i++) c.raw('a').readIndex(`r${i}`);
    c.stabilize();
    assert.equal(c.sent.filter((m) => m.type === 'heartbeat').length, 2, 'one per follower');
    assert.deepEqual(
      c.get('a').readStates.map((r) => r.context),
      ['r0', 'r1', 'r2', 'r3', 'r4'],
    );
  });

  test('one answering follower is enough in three; two are needed in five', () => {
    const c = new Cluster(['a', 'b', 'c', 'd', 'e']);
    c.campaign('a');
    c.isolate('c');
    c.isolate('d');
    c.isolate('e');
    c.raw('a').readIndex('r');
    c.stabilize();
    assert.deepEqual(c.get('a').readStates, [], 'a and b are two of five: no quorum');
    c.heal();
    c.isolate('d');
    c.isolate('e');
    c.tick('a', 1); // the next heartbeat carries the round again
    c.stabilize();
    assert.equal(c.get('a').readStates.length, 1);
  });

  test('a follower forwards its read to the leader and gets the leader commit index', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    const written = c.propose('a', 'x', 'y');
    c.raw('c').readIndex('follower-read');
    c.stabilize();
    assert.deepEqual(c.get('c').readStates, [{ context: 'follower-read', index: written }]);
    assert.ok(c.raw('c').status().appliedIndex >= written, 'c may serve it from its own state');
  });

  test('a single voter answers at once', () => {
    const c = new Cluster(['a']);
    c.campaign('a');
    c.raw('a').readIndex('solo');
    c.stabilize();
    assert.deepEqual(c.get('a').readStates, [{ context: 'solo', index: 1 }]);
  });

  test('a new leader serves no read before it commits an entry of its own term', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    c.propose('a', 'x');
    // Leadership moves to b; its followers' acknowledgements of b's no-op are held back.
    c.raw('a').transferLeader('b');
    c.stabilize((m) => m.type !== 'append-response' || m.to !== 'b');
    assert.equal(c.raw('b').status().role, 'leader');
    const noopIndex = c.raw('b').status().lastIndex;
    c.raw('b').readIndex('early');
    c.stabilize((m) => m.type !== 'append-response' || m.to !== 'b');
    assert.deepEqual(c.get('b').readStates, [], 'commit index of the new term not known yet');
    c.tick('b', 1);
    c.stabilize();
    assert.deepEqual(c.get('b').readStates, [{ context: 'early', index: noopIndex }]);
  });

  test('a deposed leader returns no stale read', () => {
    // Check-quorum off, so the old leader keeps believing it leads while cut off.
    const c = new Cluster(['a', 'b', 'c'], { checkQuorum: false });
    c.campaign('a');
    c.propose('a', 'old');
    c.isolate('a');
    c.campaign('b');
    const newWrite = c.propose('b', 'new');
    assert.equal(c.raw('a').status().role, 'leader', 'a does not know it was deposed');
    c.raw('a').readIndex('stale?');
    for (let i = 0; i < 30; i++) c.tickAll(1);
    assert.deepEqual(c.get('a').readStates, [], 'no quorum confirms a: no read index');
    // a hears from c again: c answers with its newer term and a steps down.
    c.heal();
    c.cut('a', 'b');
    c.tickAll(2);
    assert.notEqual(c.raw('a').status().role, 'leader');
    assert.deepEqual(c.get('a').readStates, []);
    assert.deepEqual(c.get('a').droppedReads, ['stale?'], 'the read fails instead');
    assert.ok(newWrite > 0);
  });

  test('a forwarded read is dropped when the follower moves to a new term', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    c.cut('c', 'a');
    c.raw('c').readIndex('lost');
    c.stabilize();
    c.heal();
    c.raw('a').transferLeader('b');
    c.stabilize();
    assert.equal(c.raw('c').status().leader, 'b');
    assert.deepEqual(c.get('c').droppedReads, ['lost']);
    assert.deepEqual(c.get('c').readStates, []);
  });

  test('a read with no leader known fails fast; too many waiting reads are refused', () => {
    const c = new Cluster(['a', 'b', 'c'], { maxPendingReads: 2 });
    assert.throws(() => c.raw('a').readIndex('x'), NotLeaderError);
    c.campaign('a');
    c.isolate('a');
    c.raw('a').readIndex('1');
    c.raw('a').readIndex('2');
    assert.throws(() => c.raw('a').readIndex('3'), OverloadedError);
  });
});
