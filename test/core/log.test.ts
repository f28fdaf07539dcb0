import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RaftLog } from '../../src/core/log.js';
import { MemoryStorage } from '../../src/core/log-storage.js';
import { membership } from '../../src/core/membership.js';
import { type Entry, entrySizeBytes } from '../../src/core/types.js';
import { entry, logOfTerms, termsOf } from './harness.js';

const abc = membership({ voters: ['a', 'b', 'c'] });

function logWith(terms: number[], commit = 0): RaftLog {
  const storage = new MemoryStorage({
    entries: logOfTerms(terms),
    hardState: { term: Math.max(0, ...terms), vote: null, commit },
  });
  return new RaftLog(storage, 0, abc);
}

function termsOfLog(log: RaftLog): number[] {
  return termsOf(log.slice(log.firstIndex(), log.lastIndex() + 1, Number.MAX_SAFE_INTEGER));
}

describe('raft log', () => {
  test('findConflict: first entry that differs or is new', () => {
    const log = logWith([1, 2, 3]);
    const cases: [Entry[], number][] = [
      [[], 0],
      [[entry(1, 1), entry(2, 2), entry(3, 3)], 0],
      [[entry(2, 2), entry(3, 3)], 0],
      [[entry(2, 2), entry(3, 3), entry(4, 4)], 4],
      [[entry(1, 4), entry(2, 4)], 1],
      [[entry(3, 1), entry(4, 2)], 3],
    ];
    for (const [ents, want] of cases) assert.equal(log.findConflict(ents), want);
  });

  test('maybeAppend: adopts, truncates only on a real conflict, ignores stale shorter messages', () => {
    // A stale, shorter AppendEntries must not truncate entries already accepted (acknowledged).
    const log = logWith([1, 2, 3]);
    assert.equal(log.maybeAppend(1, 1, 0, [entry(2, 2)]), 2);
    assert.deepEqual(termsOfLog(log), [1, 2, 3]);

    assert.equal(log.maybeAppend(3, 3, 0, [entry(4, 3), entry(5, 3)]), 5);
    assert.deepEqual(termsOfLog(log), [1, 2, 3, 3, 3]);

    assert.equal(log.maybeAppend(2, 2, 0, [entry(3, 4)]), 3);
    assert.deepEqual(termsOfLog(log), [1, 2, 4], 'conflict at 3: suffix replaced');

    assert.equal(log.maybeAppend(3, 3, 0, [entry(4, 5)]), undefined, 'prev term mismatch');
    assert.equal(log.maybeAppend(7, 4, 0, []), undefined, 'prev beyond the log');
    assert.deepEqual(termsOfLog(log), [1, 2, 4]);
  });

  test('maybeAppend commits no further than the last entry known to match', () => {
    const log = logWith([1, 1, 1, 1, 1]);
    assert.equal(log.maybeAppend(2, 1, 10, [entry(3, 1)]), 3);
    assert.equal(log.committed, 3, 'entries 4 and 5 are not known to match the leader');
  });

  test('committed entries are never overwritten', () => {
    const log = logWith([1, 1, 1], 2);
    assert.throws(() => log.append([entry(2, 5)]), /append at 2/);
  });

  test('findConflictByTerm: the last index with a term at most the given one', () => {
    const log = logWith([1, 1, 2, 2, 5, 5, 5]);
    assert.deepEqual(log.findConflictByTerm(7, 4), { index: 4, term: 2 });
    assert.deepEqual(log.findConflictByTerm(7, 5), { index: 7, term: 5 });
    assert.deepEqual(log.findConflictByTerm(10, 9), { index: 7, term: 5 }, 'clamped to last');
    assert.deepEqual(log.findConflictByTerm(3, 1), { index: 2, term: 1 });
    assert.deepEqual(log.findConflictByTerm(7, 0), { index: 0, term: 0 });
  });

  test('isUpToDate compares last term, then length (§5.4.1)', () => {
    const log = logWith([1, 2, 2]);
    assert.equal(log.isUpToDate(3, 2), true);
    assert.equal(log.isUpToDate(2, 2), false);
    assert.equal(log.isUpToDate(1, 3), true);
    assert.equal(log.isUpToDate(9, 1), false);
  });

  test('slice respects the byte budget but always returns one entry', () => {
    const log = logWith([1, 1, 1, 1]);
    const one = entrySizeBytes(entry(1, 1));
    assert.equal(log.slice(1, 5, one * 2).length, 2);
    assert.equal(log.slice(1, 5, 1).length, 1);
    assert.equal(log.slice(1, 5, Number.MAX_SAFE_INTEGER).length, 4);
  });

  test('slice spans stable storage and the unstable tail', () => {
    const log = logWith([1, 1]);
    log.append([entry(3, 2), entry(4, 2)]);
    assert.deepEqual(
      log.slice(1, 5, Number.MAX_SAFE_INTEGER).map((e) => e.index),
      [1, 2, 3, 4],
    );
    const one = entrySizeBytes(entry(1, 1));
    assert.deepEqual(
      log.slice(2, 5, one * 2).map((e) => e.index),
      [2, 3],
    );
  });

  test('the unstable tail wins over a stale stable suffix until it is persisted', () => {
    const storage = new MemoryStorage({ entries: logOfTerms([1, 1, 1, 1]) });
    const log = new RaftLog(storage, 0, abc);
    log.append([entry(3, 2)]);
    assert.equal(log.lastIndex(), 3);
    assert.equal(log.term(3), 2);
    assert.equal(log.term(4), undefined);
    assert.equal(log.persistedIndex(), 2);
    log.unstable.handedOut(3, 2);
    storage.append([entry(3, 2)]);
    log.stableTo(3, 2);
    assert.equal(log.persistedIndex(), 3);
    assert.equal(log.lastIndex(), 3);
  });

  test('stableTo ignores a write whose entry was replaced meanwhile', () => {
    const log = logWith([]);
    log.append([entry(1, 1), entry(2, 1)]);
    // A new leader replaces entry 2 while entries 1..2 of term 1 are being written.
    log.append([entry(2, 2)]);
    log.stableTo(2, 1);
    assert.equal(log.persistedIndex(), 0, 'nothing is marked durable on a term mismatch');
    assert.deepEqual(
      log.unstable.entries.map((e) => e.term),
      [1, 2],
    );
  });

  test('a log may start after a compacted prefix', () => {
    const storage = new MemoryStorage({
      snapshot: { index: 100, term: 7, membership: { voters: ['a'], learners: [] } },
      entries: [entry(101, 7), entry(102, 8)],
      hardState: { term: 8, vote: null, commit: 101 },
    });
    const log = new RaftLog(storage, 100, abc);
    assert.equal(log.firstIndex(), 101);
    assert.equal(log.term(100), 7, 'the compacted prefix keeps its last term');
    assert.equal(log.term(99), undefined);
    assert.equal(log.maybeAppend(100, 7, 101, [entry(101, 7)]), 101);
    assert.equal(log.maybeAppend(102, 8, 102, [entry(103, 8)]), 103);
    assert.equal(log.committed, 102);
  });

  test('a hard state whose commit is beyond the log is refused', () => {
    const storage = new MemoryStorage({
      entries: logOfTerms([1, 1]),
      hardState: { term: 1, vote: null, commit: 5 },
    });
    assert.throws(() => new RaftLog(storage, 0, abc), /stored commit 5 outside the stored log/);
  });
});

describe('memory storage', () => {
  test('compaction drops a prefix but keeps the term before the first entry', () => {
    const storage = new MemoryStorage({ entries: logOfTerms([1, 1, 2, 3]) });
    const members = { voters: ['a'], learners: [] };
    assert.throws(() => storage.compact(2), /not covered by a snapshot/);
    storage.createSnapshot({ index: 3, term: 2, membership: members });
    storage.compact(2);
    assert.equal(storage.firstIndex(), 3);
    assert.equal(storage.lastIndex(), 4);
    assert.equal(storage.term(2), 1);
    assert.equal(storage.term(1), undefined);
    assert.deepEqual(
      storage.entries(3, 5, Number.MAX_SAFE_INTEGER).map((e) => e.term),
      [2, 3],
    );
    storage.compact(1); // already gone: nothing to do
    assert.equal(storage.firstIndex(), 3);
    assert.throws(() => storage.compact(9), /beyond last/);
    assert.throws(() => storage.compact(4), /not covered by a snapshot \(at 3\)/);
    assert.throws(() => storage.append([entry(2, 5)]), /append at 2/);
  });
});
