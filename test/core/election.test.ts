import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type HardState,
  MemoryStorage,
  type Message,
  RawNode,
  type Ready,
  seededRandom,
  type VoteRequest,
  type VoteResponse,
} from '../../src/core/index.js';
import { Cluster, logOfTerms } from './harness.js';

function voteRequest(
  from: string,
  to: string,
  term: number,
  lastIndex: number,
  lastTerm: number,
  preVote = false,
): VoteRequest {
  return { type: 'vote', from, to, term, lastIndex, lastTerm, preVote, transfer: false };
}

/** A lone core with the given log and hard state, in a cluster of a, b, c. */
function voter(terms: number[], hardState: HardState, storage?: MemoryStorage): RawNode {
  return new RawNode({
    id: 'a',
    storage: storage ?? new MemoryStorage({ entries: logOfTerms(terms), hardState }),
    membership: { voters: ['a', 'b', 'c'] },
    random: seededRandom(1),
  });
}

/** Takes a Ready, persists it into `storage` if given, and advances. */
function drain(node: RawNode, storage?: MemoryStorage): Ready {
  const rd = node.ready();
  if (storage !== undefined) {
    storage.append(rd.entries);
    if (rd.hardState !== null) storage.setHardState(rd.hardState);
  }
  node.advance();
  return rd;
}

function voteResponses(rd: Ready): VoteResponse[] {
  return [...rd.messages, ...rd.messagesAfterPersist].filter(
    (m): m is VoteResponse => m.type === 'vote-response',
  );
}

function electLeader(c: Cluster, maxRounds = 100): string {
  for (let i = 0; i < maxRounds; i++) {
    const leaders = c.leaders();
    if (leaders.length === 1) return leaders[0] as string;
    c.tickAll(1);
  }
  throw new Error(`no single leader after ${maxRounds} rounds: ${c.leaders().join(',')}`);
}

describe('leader election (§5.2)', () => {
  for (const size of [1, 3, 5]) {
    test(`${size} nodes elect exactly one leader, and everyone follows it`, () => {
      const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, size);
      const c = new Cluster(ids);
      const leader = electLeader(c);
      c.tickAll(3);
      assert.deepEqual(c.leaders(), [leader]);
      for (const id of ids) {
        const s = c.raw(id).status();
        assert.equal(s.leader, leader, `${id} follows ${leader}`);
        assert.equal(s.commitIndex, 1, `${id} committed the leader's no-op`);
      }
    });
  }

  test('a candidate with a majority of votes wins; with a majority against it, it loses', () => {
    const c = new Cluster(['a', 'b', 'c'], { preVote: false });
    c.campaign('a');
    assert.equal(c.raw('a').status().role, 'leader');

    const d = new Cluster(['a', 'b', 'c'], { preVote: false }, (id) =>
      id === 'a' ? {} : { entries: logOfTerms([1]), hardState: { term: 1, vote: null, commit: 0 } },
    );
    d.campaign('a');
    assert.equal(d.raw('a').status().role, 'follower', 'b and c have longer logs');
    assert.equal(d.raw('a').status().term, 1);
  });

  test('vote rules: grant only to a candidate whose log is at least as up to date (§5.4.1)', () => {
    // The voter's log ends at index 3, term 2.
    const cases: { last: [number, number]; granted: boolean; why: string }[] = [
      { last: [3, 2], granted: true, why: 'same last term and length' },
      { last: [4, 2], granted: true, why: 'same last term, longer' },
      { last: [2, 2], granted: false, why: 'same last term, shorter' },
      { last: [1, 3], granted: true, why: 'higher last term, even if shorter' },
      { last: [9, 1], granted: false, why: 'lower last term, even if longer' },
      { last: [0, 0], granted: false, why: 'empty log' },
    ];
    for (const { last, granted, why } of cases) {
      const node = voter([1, 2, 2], { term: 2, vote: null, commit: 0 });
      assert.equal(node.step(voteRequest('b', 'a', 3, last[0], last[1])), undefined);
      const rd = drain(node);
      const [resp] = voteResponses(rd);
      assert.equal(resp?.granted, granted, why);
      assert.equal(resp?.term, 3);
      if (granted) {
        assert.equal(rd.hardState?.vote, 'b');
        assert.equal(rd.messages.length, 0, 'a vote never leaves before it is persisted');
        assert.equal(rd.messagesAfterPersist.length, 1);
        assert.equal(rd.mustSync, true);
      }
    }
  });

  test('one vote per term: a second candidate in the same term is refused, the first re-granted', () => {
    const node = voter([], { term: 0, vote: null, commit: 0 });
    node.step(voteRequest('b', 'a', 1, 0, 0));
    assert.equal(voteResponses(drain(node))[0]?.granted, true);
    node.step(voteRequest('c', 'a', 1, 0, 0));
    assert.equal(voteResponses(drain(node))[0]?.granted, false);
    node.step(voteRequest('b', 'a', 1, 0, 0));
    assert.equal(voteResponses(drain(node))[0]?.granted, true, 'a retried request is answered');
    node.step(voteRequest('c', 'a', 2, 0, 0));
    assert.equal(voteResponses(drain(node))[0]?.granted, true, 'a new term frees the vote');
  });

  test('a restart in the same term cannot vote twice (the vote was persisted)', () => {
    const storage = new MemoryStorage();
    const before = voter([], { term: 0, vote: null, commit: 0 }, storage);
    before.step(voteRequest('b', 'a', 1, 0, 0));
    assert.equal(voteResponses(drain(before, storage))[0]?.granted, true);
    // raftos reset its vote on every start; here the vote comes back from storage.
    const after = voter([], { term: 0, vote: null, commit: 0 }, storage);
    assert.deepEqual([after.status().term, after.status().vote], [1, 'b']);
    after.step(voteRequest('c', 'a', 1, 0, 0));
    assert.equal(voteResponses(drain(after, storage))[0]?.granted, false);
  });

  test('a higher term in any message turns a leader into a follower of that term', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    assert.equal(c.raw('a').status().role, 'leader');
    const m: Message = {
      type: 'append-response',
      from: 'b',
      to: 'a',
      term: 5,
      success: false,
      index: 0,
      hintIndex: 0,
      hintTerm: 0,
    };
    assert.equal(c.raw('a').step(m), undefined);
    assert.deepEqual([c.raw('a').status().role, c.raw('a').status().term], ['follower', 5]);
  });

  test('a candidate that hears from a leader of its term becomes its follower', () => {
    const c = new Cluster(['a', 'b', 'c'], { preVote: false });
    c.raw('b').campaign('election');
    c.processReadies();
    c.queue = [];
    assert.equal(c.raw('b').status().role, 'candidate');
    const term = c.raw('b').status().term;
    c.raw('b').step({ type: 'heartbeat', from: 'c', to: 'b', term, commit: 0, round: 0 });
    assert.deepEqual([c.raw('b').status().role, c.raw('b').status().leader], ['follower', 'c']);
  });

  test('election timeouts are randomized in [electionTicks, 2 * electionTicks)', () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const node = new RawNode({
        id: 'a',
        storage: new MemoryStorage(),
        membership: { voters: ['a', 'b', 'c'] },
        random: seededRandom(seed),
        electionTicks: 10,
        preVote: false,
      });
      let ticks = 0;
      while (node.status().role === 'follower') {
        node.tick();
        ticks++;
        assert.ok(ticks < 20, 'campaigns before 2 * electionTicks');
      }
      assert.ok(ticks >= 10);
      seen.add(ticks);
    }
    assert.ok(seen.size >= 5, `timeouts spread out (${[...seen].join(',')})`);
  });
});

describe('pre-vote (thesis §9.6)', () => {
  test('a partitioned node does not raise its term, and does not disrupt the leader on return', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    const term = c.raw('a').status().term;
    c.isolate('c');
    for (let i = 0; i < 100; i++) c.tickAll(1);
    assert.equal(c.raw('c').status().term, term, 'pre-votes failed, so the term never rose');
    assert.equal(c.raw('c').status().role, 'pre-candidate');
    c.heal();
    c.tickAll(5);
    assert.deepEqual(c.leaders(), ['a']);
    assert.equal(c.raw('a').status().term, term, 'the leader was not disturbed');
    assert.equal(c.raw('c').status().leader, 'a');
  });

  test('without pre-vote the same partition deposes the leader (what pre-vote prevents)', () => {
    const c = new Cluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
    c.campaign('a');
    const term = c.raw('a').status().term;
    c.isolate('c');
    for (let i = 0; i < 100; i++) c.tickAll(1);
    assert.ok(c.raw('c').status().term > term + 3, 'the isolated node kept raising its term');
    c.heal();
    c.tickAll(20); // until the returning candidate times out again and asks for votes
    assert.ok(c.raw('a').status().term > term, 'the healthy leader was forced to a new term');
  });

  test('pre-vote requests do not change the term or vote of those who answer them', () => {
    const node = voter([1], { term: 1, vote: 'c', commit: 0 });
    node.step(voteRequest('b', 'a', 2, 1, 1, true));
    const rd = drain(node);
    assert.equal(voteResponses(rd)[0]?.granted, true);
    assert.equal(voteResponses(rd)[0]?.preVote, true);
    assert.deepEqual([node.status().term, node.status().vote], [1, 'c']);
    assert.equal(rd.hardState, null, 'nothing to persist');
  });

  test('a pre-candidate behind in term learns the term from a rejection and catches up', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    c.isolate('c');
    // Meanwhile a and b move to a later term.
    c.raw('b').campaign('election');
    c.stabilize();
    const term = c.raw('b').status().term;
    c.heal();
    c.raw('c').campaign('pre-vote');
    c.stabilize();
    assert.equal(c.raw('c').status().term, term);
  });
});

describe('role changes (for leader and follower callbacks)', () => {
  test('every change of role, leader or term is reported once, in order, by Ready.softState', () => {
    const c = new Cluster(['a', 'b', 'c'], { electionTicks: 10 });
    c.raw('a').campaign('pre-vote');
    c.stabilize();
    assert.deepEqual(c.get('a').softStates, [
      { role: 'pre-candidate', leader: null, term: 0 },
      { role: 'candidate', leader: null, term: 1 },
      { role: 'leader', leader: 'a', term: 1 },
    ]);
    assert.deepEqual(c.get('b').softStates, [
      { role: 'follower', leader: null, term: 1 }, // voted for a in term 1
      { role: 'follower', leader: 'a', term: 1 }, // heard from a as leader
    ]);
    // The leader loses its quorum and steps down: its followers' leader is gone too.
    c.isolate('a');
    c.tick('a', 20);
    assert.deepEqual(c.get('a').softStates.at(-1), { role: 'follower', leader: null, term: 1 });
    assert.equal(c.get('a').softStates.length, 4, 'no report without a change');
  });
});

describe('check-quorum and the leader lease', () => {
  test('a leader cut off from a majority steps down after one whole timeout without a quorum', () => {
    // Check-quorum looks at windows of electionTicks; the window in progress at the cut had
    // heard from the followers, so the leader steps down at the end of the next one.
    const c = new Cluster(['a', 'b', 'c'], { electionTicks: 10 });
    c.campaign('a');
    c.isolate('a');
    c.tick('a', 19);
    assert.equal(c.raw('a').status().role, 'leader');
    c.tick('a', 1);
    assert.equal(c.raw('a').status().role, 'follower');
    assert.equal(c.raw('a').status().leader, null);
  });

  test('a leader in touch with a majority keeps its role', () => {
    const c = new Cluster(['a', 'b', 'c', 'd', 'e']);
    c.campaign('a');
    c.isolate('d');
    c.isolate('e');
    // Only the leader ticks, so the followers never time out; a, b, c remain a majority.
    for (let i = 0; i < 60; i++) {
      c.raw('a').tick();
      c.stabilize();
    }
    assert.equal(c.raw('a').status().role, 'leader');
  });

  test('with check-quorum a follower that hears from its leader ignores a disruptive vote', () => {
    const c = new Cluster(['a', 'b', 'c'], { preVote: false });
    c.campaign('a');
    const term = c.raw('a').status().term;
    const b = c.raw('b');
    assert.equal(b.step(voteRequest('c', 'b', term + 1, 99, term)), undefined);
    assert.equal(b.status().term, term, 'within the lease the vote request is ignored');
    assert.equal(b.status().leader, 'a');
    // A transfer's election is exempt from the lease.
    b.step({ ...voteRequest('c', 'b', term + 1, 99, term), transfer: true });
    assert.equal(b.status().term, term + 1);
  });
});
