import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Cluster, texts } from './harness.js';

function withLearners(voters: string[], learners: string[], options = {}): Cluster {
  return new Cluster([...voters, ...learners], { membership: { voters, learners }, ...options });
}

describe('learners (non-voting members)', () => {
  test('receive and apply every entry', () => {
    const c = withLearners(['a', 'b', 'c'], ['l']);
    c.campaign('a');
    c.propose('a', 'x', 'y');
    assert.deepEqual(texts(c.get('l').applied), ['x', 'y']);
    assert.equal(c.raw('l').status().leader, 'a');
  });

  test('never campaign, even when the leader is gone', () => {
    const c = withLearners(['a', 'b', 'c'], ['l']);
    c.campaign('a');
    c.crash('a');
    c.isolate('b');
    c.isolate('c');
    c.tick('l', 500);
    assert.equal(c.raw('l').status().role, 'follower');
    assert.equal(c.sent.filter((m) => m.from === 'l' && m.type === 'vote').length, 0);
  });

  test('are not counted toward the commit quorum', () => {
    const c = withLearners(['a', 'b'], ['l1', 'l2']);
    c.campaign('a');
    c.isolate('b');
    const index = c.raw('a').propose([new TextEncoder().encode('x')]).lastIndex;
    c.stabilize();
    assert.equal(c.raw('l1').status().lastIndex, index, 'the learners hold the entry');
    assert.ok(c.raw('a').status().commitIndex < index, 'but two learners are no voter');
    c.heal();
    c.tick('a', 1);
    c.stabilize();
    assert.equal(c.raw('a').status().commitIndex, index);
  });

  test('are not asked for votes', () => {
    const c = withLearners(['a', 'b', 'c'], ['l'], { preVote: false });
    c.campaign('a');
    const asked = c.sent.filter((m) => m.type === 'vote').map((m) => m.to);
    assert.deepEqual(asked.sort(), ['b', 'c']);
  });

  test('do not keep a leader in office under check-quorum', () => {
    const c = withLearners(['a', 'b', 'c'], ['l1', 'l2'], { electionTicks: 10 });
    c.campaign('a');
    c.cut('a', 'b');
    c.cut('a', 'c');
    for (let i = 0; i < 25; i++) {
      c.raw('a').tick();
      c.stabilize();
    }
    assert.equal(c.raw('a').status().role, 'follower', 'only learners answered');
  });
});
