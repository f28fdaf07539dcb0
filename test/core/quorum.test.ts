import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Membership } from '../../src/core/membership.js';
import {
  committedIndex,
  majorityIndex,
  majorityVote,
  quorumReached,
  quorumSize,
  voteResult,
} from '../../src/core/quorum.js';
import { propertySeed } from '../support/property.js';

function joint(voters: string[], outgoing: string[] = []): Membership {
  return {
    voters: new Set(voters),
    outgoingVoters: new Set(outgoing),
    learners: new Set(),
    addresses: new Map(),
  };
}

/** The obvious definition: the largest index that at least a quorum of voters has reached. */
function naiveMajorityIndex(matches: number[]): number {
  let best = 0;
  for (const candidate of matches) {
    const reached = matches.filter((m) => m >= candidate).length;
    if (reached >= quorumSize(matches.length) && candidate > best) best = candidate;
  }
  return best;
}

describe('quorum', () => {
  test('majority sizes', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumSize), [1, 2, 2, 3, 3, 4, 4]);
  });

  test('majorityIndex: the index a majority has reached', () => {
    const cases: [number[], number][] = [
      [[5], 5],
      [[5, 3], 3],
      [[5, 3, 1], 3],
      [[1, 3, 5], 3],
      [[7, 7, 2, 2], 2],
      [[9, 8, 7, 1, 1], 7],
      [[0, 0, 4, 4, 4], 4],
    ];
    for (const [matches, expected] of cases) {
      const ids = matches.map((_, i) => `n${i}`);
      const got = majorityIndex(new Set(ids), (id) => matches[Number(id.slice(1))] as number);
      assert.equal(got, expected, `matches ${matches.join(',')}`);
    }
  });

  test('majorityIndex agrees with the naive definition', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1000), { minLength: 1, maxLength: 9 }), (matches) => {
        const ids = matches.map((_, i) => `n${i}`);
        const got = majorityIndex(new Set(ids), (id) => matches[Number(id.slice(1))] as number);
        assert.equal(got, naiveMajorityIndex(matches));
      }),
      propertySeed(),
    );
  });

  test('a joint configuration commits what both majorities have', () => {
    const match: Record<string, number> = { a: 10, b: 10, c: 2, d: 3, e: 3 };
    const of = (id: string): number => match[id] ?? 0;
    assert.equal(committedIndex(joint(['a', 'b', 'c']), of), 10);
    assert.equal(committedIndex(joint(['c', 'd', 'e']), of), 3);
    assert.equal(committedIndex(joint(['a', 'b', 'c'], ['c', 'd', 'e']), of), 3);
  });

  test('vote outcomes', () => {
    const voters = new Set(['a', 'b', 'c']);
    const votes = (entries: [string, boolean][]): Map<string, boolean> => new Map(entries);
    assert.equal(majorityVote(voters, votes([['a', true]])), 'pending');
    assert.equal(
      majorityVote(
        voters,
        votes([
          ['a', true],
          ['b', true],
        ]),
      ),
      'won',
    );
    assert.equal(
      majorityVote(
        voters,
        votes([
          ['a', true],
          ['b', false],
        ]),
      ),
      'pending',
    );
    assert.equal(
      majorityVote(
        voters,
        votes([
          ['a', false],
          ['b', false],
        ]),
      ),
      'lost',
    );
    // Votes from outside the voter set count for nothing.
    assert.equal(
      majorityVote(
        voters,
        votes([
          ['a', true],
          ['x', true],
        ]),
      ),
      'pending',
    );
    // Joint: both halves must win; either losing loses.
    const m = joint(['a', 'b', 'c'], ['c', 'd', 'e']);
    assert.equal(
      voteResult(
        m,
        votes([
          ['a', true],
          ['b', true],
        ]),
      ),
      'pending',
    );
    assert.equal(
      voteResult(
        m,
        votes([
          ['a', true],
          ['c', true],
          ['d', true],
        ]),
      ),
      'won',
    );
    assert.equal(
      voteResult(
        m,
        votes([
          ['a', true],
          ['b', true],
          ['d', false],
          ['e', false],
        ]),
      ),
      'lost',
    );
  });

  test('quorumReached', () => {
    const m = joint(['a', 'b', 'c']);
    assert.equal(
      quorumReached(m, (id) => id === 'a'),
      false,
    );
    assert.equal(
      quorumReached(m, (id) => id !== 'c'),
      true,
    );
    const j = joint(['a', 'b', 'c'], ['d', 'e', 'f']);
    assert.equal(
      quorumReached(j, (id) => ['a', 'b'].includes(id)),
      false,
    );
    assert.equal(
      quorumReached(j, (id) => ['a', 'b', 'd', 'e'].includes(id)),
      true,
    );
  });
});
