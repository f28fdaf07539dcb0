import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type AppendRequest,
  type AppendResponse,
  entrySizeBytes,
  MemoryStorage,
  type Message,
  NotLeaderError,
  OverloadedError,
  RawNode,
  seededRandom,
} from '../../src/core/index.js';
import { Cluster, entry, logOfTerms, termsOf, texts } from './harness.js';

const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];

/** The follower logs (a)-(f) of the Raft paper's figure 7. */
const figure7: Record<string, number[]> = {
  a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
  b: [1, 1, 1, 4],
  c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
  d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
  e: [1, 1, 1, 4, 4, 4, 4],
  f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
};

function rejectionsFrom(c: Cluster, id: string): number {
  return c.sent.filter(
    (m): m is AppendResponse => m.type === 'append-response' && m.from === id && !m.success,
  ).length;
}

function isAppend(m: Message): m is AppendRequest {
  return m.type === 'append';
}

describe('log replication (§5.3)', () => {
  for (const [name, terms] of Object.entries(figure7)) {
    test(`figure 7 (${name}): a new leader of term 8 repairs the follower in one round trip`, () => {
      // The leader, the follower of case (name), and an empty node that votes for the leader.
      const c = new Cluster(['leader', name, 'voter'], {}, (id) => {
        if (id === 'leader') {
          return { entries: logOfTerms(leaderLog), hardState: { term: 7, vote: null, commit: 0 } };
        }
        if (id === name) {
          const lastTerm = terms[terms.length - 1] as number;
          return {
            entries: logOfTerms(terms),
            hardState: { term: lastTerm, vote: null, commit: 0 },
          };
        }
        return {};
      });
      c.campaign('leader');
      assert.equal(c.raw('leader').status().role, 'leader');
      assert.equal(c.raw('leader').status().term, 8);
      const expected = [...leaderLog, 8];
      assert.deepEqual(termsOf(c.logOf(name)), expected, `follower ${name} holds the leader's log`);
      assert.deepEqual(termsOf(c.logOf('voter')), expected);
      assert.equal(c.raw(name).status().commitIndex, 11);
      // Fast backtracking: one rejection at most, where per-entry backtracking needs up to 7.
      assert.ok(rejectionsFrom(c, name) <= 1, `${rejectionsFrom(c, name)} rejections`);
    });
  }

  test('figure 7: all six followers at once are repaired by the leader they elect', () => {
    const ids = ['leader', ...Object.keys(figure7)];
    const c = new Cluster(ids, {}, (id) => {
      if (id === 'leader') {
        return { entries: logOfTerms(leaderLog), hardState: { term: 7, vote: null, commit: 0 } };
      }
      const terms = figure7[id] as number[];
      return {
        entries: logOfTerms(terms),
        hardState: { term: terms[terms.length - 1] as number, vote: null, commit: 0 },
      };
    });
    c.campaign('leader');
    assert.equal(c.raw('leader').status().role, 'leader', 'a, b, e and f vote for it; c, d cannot');
    for (const id of ids) assert.deepEqual(termsOf(c.logOf(id)), [...leaderLog, 8], id);
  });

  test('figure 8: an entry of an earlier term is not committed by counting replicas', () => {
    // (c) of figure 8: S1 leads in term 4 and holds 2@2, which S2 also has; S5 holds 2@3.
    const ids = ['s1', 's2', 's3', 's4', 's5'];
    const logs: Record<string, number[]> = { s1: [1, 2], s2: [1, 2], s3: [1], s4: [1], s5: [1, 3] };
    const one = entrySizeBytes(entry(1, 1));
    // Lease off: S2..S4 vote for S5 as soon as S1 is gone, as in the paper.
    const options = { maxAppendBytes: one, checkQuorum: false, preVote: false };
    const c = new Cluster(ids, options, (id) => ({
      entries: logOfTerms(logs[id] as number[]),
      hardState: { term: 3, vote: null, commit: 1 },
    }));
    c.isolate('s5');
    const withoutIndex3 = (m: Message): boolean =>
      !(isAppend(m) && m.entries.some((e) => e.index === 3));
    c.raw('s1').campaign('election');
    c.stabilize(withoutIndex3);
    // S1 replicates 2@2 alone to S2 and S3: it is now on a majority (S1, S2, S3); 3@4 is not.
    for (const to of ['s2', 's3']) {
      c.deliver({
        type: 'append',
        from: 's1',
        to,
        term: 4,
        prevIndex: 1,
        prevTerm: 1,
        entries: [entry(2, 2)],
        commit: 1,
      });
    }
    c.stabilize(withoutIndex3);
    assert.equal(c.raw('s1').status().role, 'leader');
    assert.deepEqual(termsOf(c.logOf('s3')), [1, 2]);
    for (const id of ids) {
      assert.equal(c.raw(id).status().commitIndex, 1, `${id} must not commit 2@2`);
    }
    // (d): S1 crashes; S5 is elected with S2, S3, S4 and overwrites index 2 everywhere.
    c.crash('s1');
    c.heal();
    c.campaign('s5'); // term 4: refused, everyone already voted for S1 in term 4
    c.campaign('s5'); // term 5: S2, S3, S4 vote for S5, whose last entry (2@3) is newer
    assert.equal(c.raw('s5').status().role, 'leader');
    for (const id of ['s2', 's3', 's4', 's5']) {
      assert.deepEqual(termsOf(c.logOf(id)).slice(0, 2), [1, 3], id);
      assert.equal(c.get(id).applied[2]?.term, 3, `${id} applied 2@3`);
    }
    // The overwritten 2@2 was never applied anywhere.
    for (const id of ids) assert.notEqual(c.get(id).applied[2]?.term, 2);
  });

  test('entries are batched into AppendEntries bounded in bytes', () => {
    const one = entrySizeBytes(entry(1, 1, 'x'.repeat(100)));
    const c = new Cluster(['a', 'b', 'c'], { maxAppendBytes: one * 10 });
    c.campaign('a');
    c.sent.length = 0;
    const commands = Array.from({ length: 95 }, () => new TextEncoder().encode('x'.repeat(100)));
    c.raw('a').propose(commands);
    c.stabilize();
    const appends = c.sent.filter((m): m is AppendRequest => isAppend(m) && m.to === 'b');
    const sizes = appends.map((m) => m.entries.length).filter((n) => n > 0);
    assert.deepEqual(sizes, [10, 10, 10, 10, 10, 10, 10, 10, 10, 5]);
    assert.equal(c.raw('b').status().commitIndex, 96);
  });

  test('pipelining: several AppendEntries in flight per follower, bounded by the window', () => {
    const c = new Cluster(['a', 'b', 'c'], { maxInflightMessages: 3 });
    c.campaign('a');
    c.sent.length = 0;
    // A Ready after each proposal, so each is its own message; nothing is delivered yet, so no
    // answer comes back and only the window limits what is sent.
    for (let i = 0; i < 10; i++) {
      c.raw('a').propose([new TextEncoder().encode(`v${i}`)]);
      c.processReadies();
    }
    const toB = c.queue.filter((m) => isAppend(m) && m.to === 'b');
    assert.equal(toB.length, 3, 'three in flight, none acknowledged, the rest wait');
    c.stabilize();
    assert.equal(c.raw('b').status().commitIndex, 11);
    assert.deepEqual(
      texts(c.get('b').applied),
      Array.from({ length: 10 }, (_, i) => `v${i}`),
    );
  });

  test('proposals between two Readies share one AppendEntries per follower', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    c.sent.length = 0;
    for (let i = 0; i < 50; i++) c.raw('a').propose([new TextEncoder().encode(`v${i}`)]);
    c.processReadies();
    const appends = c.queue.filter(isAppend);
    assert.deepEqual(
      appends.map((m) => [m.to, m.entries.length]),
      [
        ['b', 50],
        ['c', 50],
      ],
    );
    c.stabilize();
    assert.equal(texts(c.get('c').applied).length, 50);
  });

  test('a slow follower is not sent more than the window while its answers do not come', () => {
    const c = new Cluster(['a', 'b', 'c'], { maxInflightMessages: 2 });
    c.campaign('a');
    c.sent.length = 0;
    c.cutOneWay('c', 'a'); // c receives but its answers are lost
    for (let i = 0; i < 20; i++) {
      c.raw('a').propose([new TextEncoder().encode(`v${i}`)]);
      c.stabilize();
    }
    assert.equal(c.raw('a').status().commitIndex, 21, 'a and b commit without c');
    const toC = c.sent.filter((m) => isAppend(m) && m.to === 'c' && m.entries.length > 0);
    assert.ok(toC.length <= 2, `${toC.length} appends with entries sent to c`);
    c.heal();
    c.tickAll(3);
    assert.equal(c.raw('c').status().commitIndex, 21, 'c catches up once it is heard again');
  });

  test('a follower acknowledges entries only after persisting them', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    c.raw('a').propose([new TextEncoder().encode('x')]);
    c.processReadies();
    const toB = c.queue.find((m) => isAppend(m) && m.to === 'b') as Message;
    c.queue = [];
    c.raw('b').step(toB);
    const rd = c.raw('b').ready();
    assert.equal(rd.entries.length, 1);
    assert.equal(rd.messages.length, 0, 'nothing leaves before the write');
    assert.equal(rd.messagesAfterPersist[0]?.type, 'append-response');
    c.raw('b').advance();
  });

  test('the leader counts itself toward a quorum only after its own write (thesis §10.2.1)', () => {
    const storage = new MemoryStorage({
      entries: [entry(1, 1)],
      hardState: { term: 1, vote: 'a', commit: 1 },
    });
    const a = new RawNode({
      id: 'a',
      storage,
      membership: { voters: ['a', 'b', 'c'] },
      random: seededRandom(1),
    });
    a.campaign();
    a.ready();
    a.advance();
    a.step({ type: 'vote-response', from: 'b', to: 'a', term: 2, preVote: false, granted: true });
    assert.equal(a.status().role, 'leader');
    const rd = a.ready();
    assert.ok(
      rd.messages.some((m) => isAppend(m) && m.to === 'b'),
      'appends leave before the write',
    );
    const noop = rd.entries[0];
    assert.equal(noop?.kind, 'noop');
    // b acknowledges; a has not yet reported its own write: 1 of 3 is no quorum.
    a.step({
      type: 'append-response',
      from: 'b',
      to: 'a',
      term: 2,
      success: true,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    assert.equal(a.status().commitIndex, 1);
    storage.append(rd.entries);
    a.advance();
    assert.equal(a.status().commitIndex, 2, 'its own write completes the quorum');
  });

  test('a majority of followers commits even before the leader finishes its own write', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    const a = c.raw('a');
    c.hold('a'); // the leader's write is in progress: its Ready is not acknowledged yet
    a.propose([new TextEncoder().encode('x')]);
    const rd = a.ready();
    for (const m of rd.messages) c.deliver(m);
    for (const m of c.queue.splice(0)) if (m.to === 'a') a.step(m);
    assert.equal(a.status().commitIndex, 2, 'b and c hold entry 2: committed without a');
    c.get('a').storage.append(rd.entries);
    a.advance();
    c.release('a');
  });

  test('proposals on a follower or candidate fail fast with the known leader', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    assert.throws(
      () => c.raw('b').propose([new Uint8Array(1)]),
      (err: unknown) =>
        err instanceof NotLeaderError && err.leader === 'a' && err.code === 'RAFT_NOT_LEADER',
    );
    c.isolate('c');
    c.raw('c').campaign('election');
    assert.throws(
      () => c.raw('c').propose([new Uint8Array(1)]),
      (err: unknown) => err instanceof NotLeaderError && err.leader === null,
    );
  });

  test('the leader refuses proposals past maxUncommittedBytes until entries are applied', () => {
    const size = entrySizeBytes(entry(1, 1, 'x'.repeat(1000)));
    const c = new Cluster(['a', 'b', 'c'], { maxUncommittedBytes: size * 3 });
    c.campaign('a');
    c.isolate('a');
    const cmd = new TextEncoder().encode('x'.repeat(1000));
    c.raw('a').propose([cmd]);
    c.raw('a').propose([cmd]);
    c.raw('a').propose([cmd]);
    assert.throws(() => c.raw('a').propose([cmd]), OverloadedError);
    c.heal();
    c.stabilize();
    c.tickAll(1);
    assert.equal(c.raw('a').status().appliedIndex, 4);
    assert.doesNotThrow(() => c.raw('a').propose([cmd]));
  });
});
