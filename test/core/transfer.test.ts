import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  NotLeaderError,
  ProposalDroppedError,
  TransferRejectedError,
} from '../../src/core/index.js';
import { Cluster, texts } from './harness.js';

describe('leadership transfer (thesis §3.10)', () => {
  test('to an up-to-date follower: it takes over in the next term at once', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    const term = c.raw('a').status().term;
    c.raw('a').transferLeader('b');
    c.stabilize();
    assert.deepEqual(c.leaders(), ['b']);
    assert.equal(c.raw('b').status().term, term + 1);
    assert.equal(c.raw('a').status().leader, 'b');
    assert.ok(c.sent.some((m) => m.type === 'timeout-now' && m.to === 'b'));
  });

  test('to a lagging follower: it is caught up first, then told to campaign', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    c.isolate('b');
    c.propose('a', 'x', 'y', 'z');
    c.heal();
    c.raw('a').transferLeader('b');
    c.stabilize();
    assert.deepEqual(c.leaders(), ['b']);
    assert.deepEqual(texts(c.get('b').applied), ['x', 'y', 'z']);
  });

  test('proposals are refused while a transfer is under way', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    c.isolate('b');
    c.raw('a').transferLeader('b');
    assert.throws(
      () => c.raw('a').propose([new Uint8Array(1)]),
      (err: unknown) =>
        err instanceof ProposalDroppedError && err.reason === 'transfer-in-progress',
    );
  });

  test('a transfer that does not finish within an election timeout is abandoned', () => {
    const c = new Cluster(['a', 'b', 'c'], { electionTicks: 10 });
    c.campaign('a');
    c.isolate('b');
    c.raw('a').transferLeader('b');
    c.tick('a', 5);
    assert.equal(c.raw('a').status().transferee, 'b');
    // Followers answer heartbeats, so check-quorum keeps a in office.
    for (let i = 0; i < 6; i++) {
      c.raw('a').tick();
      c.stabilize();
    }
    assert.equal(c.raw('a').status().transferee, null);
    assert.equal(c.raw('a').status().role, 'leader');
    assert.doesNotThrow(() => c.raw('a').propose([new Uint8Array(1)]));
  });

  test('invalid targets and callers are refused with typed errors', () => {
    const c = new Cluster(['a', 'b', 'c', 'l'], {
      membership: { voters: ['a', 'b', 'c'], learners: ['l'] },
    });
    c.campaign('a');
    assert.throws(() => c.raw('a').transferLeader('l'), TransferRejectedError);
    assert.throws(() => c.raw('a').transferLeader('zz'), /not a member/);
    assert.throws(
      () => c.raw('b').transferLeader('c'),
      (err: unknown) => err instanceof NotLeaderError && err.leader === 'a',
    );
    c.raw('a').transferLeader('a');
    assert.equal(c.raw('a').status().transferee, null, 'to itself: nothing to do');
  });
});
