/**
 * The overlapped order (`asyncStorageWrites`, `RawNode.accept`): several writes under way at
 * once, each finished in order, and nothing claimed durable or applied too early.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Entry,
  MemoryStorage,
  type Message,
  RawNode,
  type Ready,
  seededRandom,
} from '../../src/core/index.js';
import { entry } from './harness.js';

const text = (s: string) => new TextEncoder().encode(s);

function node(id: string, storage: MemoryStorage): RawNode {
  return new RawNode({
    id,
    storage,
    membership: { voters: ['a', 'b', 'c'] },
    random: seededRandom(1),
    asyncStorageWrites: true,
  });
}

/** A leader `a` of term 2 over [1@1], its no-op written and committed, nothing in flight. */
function leader(): { a: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage({
    entries: [entry(1, 1)],
    hardState: { term: 1, vote: 'a', commit: 1 },
  });
  const a = node('a', storage);
  a.campaign();
  const first = a.ready();
  storage.setHardState(first.hardState ?? storage.hardState());
  a.advance();
  a.step({ type: 'vote-response', from: 'b', to: 'a', term: 2, preVote: false, granted: true });
  const rd = a.ready();
  storage.append(rd.entries);
  a.advance();
  a.step(ack('b', 2));
  const done = a.ready();
  a.advance();
  assert.equal(done.committedEntries.at(-1)?.index, 2);
  return { a, storage };
}

function ack(from: string, index: number, term = 2): Message {
  return {
    type: 'append-response',
    from,
    to: 'a',
    term,
    success: true,
    index,
    hintIndex: 0,
    hintTerm: 0,
  };
}

const indexes = (entries: readonly Entry[]) => entries.map((e) => e.index);

describe('overlapped writes', () => {
  test('the next Ready is taken while the first write is under way, and holds only new entries', () => {
    const { a } = leader();
    a.propose([text('x')]);
    const rd1 = a.ready();
    assert.deepEqual(indexes(rd1.entries), [3]);
    a.accept();
    assert.equal(a.inFlight, 1);
    assert.equal(a.hasReady(), false, 'nothing new: the entry under way is not handed out again');
    a.propose([text('y')]);
    const rd2 = a.ready();
    assert.deepEqual(indexes(rd2.entries), [4]);
    a.accept();
    assert.equal(a.inFlight, 2);
  });

  test('the leader counts only what its finished writes made durable', () => {
    const { a, storage } = leader();
    a.propose([text('x')]);
    const rd1 = a.ready();
    a.accept();
    a.propose([text('y')]);
    const rd2 = a.ready();
    a.accept();
    // b holds both; a's own writes are under way: 1 of 3 is no quorum.
    a.step(ack('b', 4));
    assert.equal(a.commitIndex, 2);
    storage.append(rd1.entries);
    a.advance();
    assert.equal(a.commitIndex, 3, 'the first write finished: entry 3 on a and b');
    storage.append(rd2.entries);
    a.advance();
    assert.equal(a.commitIndex, 4);
    assert.equal(a.inFlight, 0);
  });

  test('committed entries are handed out to apply only once durable here', () => {
    const { a, storage } = leader();
    a.propose([text('x')]);
    const rd1 = a.ready();
    a.accept();
    // b and c hold entry 3: committed without a, whose write is still under way.
    a.step(ack('b', 3));
    a.step(ack('c', 3));
    assert.equal(a.commitIndex, 3);
    const rd2 = a.ready();
    assert.deepEqual(rd2.committedEntries, [], 'entry 3 is not durable on a yet');
    a.accept();
    storage.append(rd1.entries);
    a.advance();
    assert.equal(a.hasReady(), true);
    const rd3 = a.ready();
    assert.deepEqual(indexes(rd3.committedEntries), [3]);
    a.advance();
    a.advance();
    assert.equal(a.status().appliedIndex, 3);
  });

  test('without asyncStorageWrites a Ready may apply its own entries after its write, as before', () => {
    const storage = new MemoryStorage({
      entries: [entry(1, 1)],
      hardState: { term: 1, vote: null, commit: 0 },
    });
    const b = new RawNode({
      id: 'b',
      storage,
      membership: { voters: ['a', 'b', 'c'] },
      random: seededRandom(2),
    });
    b.step({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 1,
      prevIndex: 1,
      prevTerm: 1,
      entries: [entry(2, 1)],
      commit: 2,
    } as Message);
    const rd = b.ready();
    assert.deepEqual(indexes(rd.entries), [2]);
    assert.deepEqual(indexes(rd.committedEntries), [1, 2]);
    storage.append(rd.entries);
    b.advance();
  });

  test("a follower's entries replaced while being written are written again, and the stale write claims nothing", () => {
    const storage = new MemoryStorage({
      entries: [entry(1, 1)],
      hardState: { term: 1, vote: null, commit: 1 },
    });
    const b = node('b', storage);
    const append = (term: number, prevIndex: number, prevTerm: number, entries: Entry[]): Message =>
      ({
        type: 'append',
        from: 'a',
        to: 'b',
        term,
        prevIndex,
        prevTerm,
        entries,
        commit: 1,
      }) as Message;
    b.step(append(1, 1, 1, [entry(2, 1), entry(3, 1)]));
    const rd1: Ready = b.ready();
    assert.deepEqual(indexes(rd1.entries), [2, 3]);
    b.accept();
    // A new leader of term 2 replaces entry 3 while the first write is under way.
    b.step(append(2, 2, 1, [entry(3, 2)]));
    const rd2 = b.ready();
    assert.deepEqual(
      rd2.entries.map((e) => `${e.index}@${e.term}`),
      ['3@2'],
      'only the replacement is handed out',
    );
    b.accept();
    storage.append(rd1.entries);
    b.advance();
    assert.equal(b.log().term(3), 2, 'the stale write did not make 3@1 durable');
    storage.append(rd2.entries);
    b.advance();
    assert.equal(b.status().lastIndex, 3);
    assert.equal(b.hasReady(), false);
  });
});
