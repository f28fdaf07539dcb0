/**
 * Snapshots in the core (Raft paper §7): a follower that needs entries the leader compacted
 * away gets the leader's snapshot; a newer snapshot replaces the follower's log, or only moves
 * its commit index when the log already holds the snapshot's last entry (its suffix is kept);
 * an older or equal one is answered and ignored. The leader's progress for that follower goes
 * through the snapshot state and out of it when the follower answers, or when the transfer is
 * reported finished or failed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type AppendResponse,
  type InstallSnapshot,
  MemoryStorage,
  type Message,
  RawNode,
  type SnapshotMeta,
  seededRandom,
} from '../../src/core/index.js';
import { Cluster, entry, logOfTerms } from './harness.js';

const members = { voters: ['a', 'b', 'c'], learners: [] };
const meta = (index: number, term: number): SnapshotMeta => ({ index, term, membership: members });

/** The leader `a` snapshots what it applied and drops its log behind it, keeping `keep` entries. */
function compactLeader(c: Cluster, keep = 0): SnapshotMeta {
  const a = c.get('a');
  const applied = a.raw.status().appliedIndex;
  const snapshot = meta(applied, a.storage.term(applied) as number);
  a.storage.createSnapshot(snapshot);
  a.storage.compact(applied - keep);
  return snapshot;
}

describe('a follower behind the compacted log', () => {
  test('gets the snapshot, then the entries after it, through the snapshot state', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    c.crash('c');
    for (let i = 0; i < 20; i++) c.raw('a').propose([new TextEncoder().encode(`v${i}`)]);
    c.stabilize();
    const snapshot = compactLeader(c);
    assert.equal(c.get('a').storage.firstIndex(), snapshot.index + 1);
    // c comes back: the leader finds it behind its first index and sends the snapshot.
    c.restart('c');
    c.tick('a', 1); // a heartbeat; c's answer makes the leader probe it
    const held: Message[] = [];
    c.stabilize((m) => {
      if (m.type === 'install-snapshot') {
        held.push(m);
        return false;
      }
      return true;
    });
    assert.equal(held.length, 1, 'one snapshot sent');
    const sent = held[0] as InstallSnapshot;
    assert.deepEqual(sent.snapshot, snapshot);
    const progress = c.raw('a').status().progress.get('c');
    assert.equal(progress?.state, 'snapshot');
    // Nothing else goes to c meanwhile, heartbeats aside.
    c.tick('a', 3);
    assert.ok(c.queue.every((m) => m.to !== 'c' || m.type === 'heartbeat'));
    // The snapshot arrives: c installs it, answers, and the leader replicates the rest.
    c.deliver(sent);
    c.stabilize();
    const cNode = c.get('c');
    assert.deepEqual(cNode.restored, [snapshot]);
    assert.deepEqual(cNode.storage.snapshot(), snapshot);
    assert.equal(cNode.storage.firstIndex(), snapshot.index + 1);
    assert.equal(c.raw('a').status().progress.get('c')?.state, 'replicate');
    c.raw('a').propose([new TextEncoder().encode('after')]);
    c.stabilize();
    const last = c.raw('a').status().lastIndex;
    assert.equal(c.raw('c').status().lastIndex, last);
    assert.equal(c.raw('c').status().commitIndex, last);
    assert.equal(c.raw('c').status().appliedIndex, last);
    assert.equal(c.raw('c').status().snapshotIndex, snapshot.index);
    assert.equal(c.raw('c').status().firstIndex, snapshot.index + 1);
    // After the snapshot, c applied exactly the leader's entries after it (before it, only
    // what its own log held when it restarted).
    const applied = cNode.applied.filter((e) => e !== undefined).map((e) => e.index);
    assert.deepEqual(
      applied.filter((i) => i > snapshot.index),
      [last],
    );
    assert.ok(
      applied.every((i) => i > snapshot.index || i <= 2),
      String(applied),
    );
  });

  test('a follower only slightly behind gets entries, not the snapshot (entries kept behind it)', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    c.crash('c');
    for (let i = 0; i < 5; i++) c.raw('a').propose([new TextEncoder().encode(`v${i}`)]);
    c.stabilize();
    compactLeader(c, 10);
    c.restart('c');
    c.tickAll(3);
    assert.ok(!c.sent.some((m) => m.type === 'install-snapshot'));
    assert.equal(c.raw('c').status().lastIndex, c.raw('a').status().lastIndex);
  });

  test('a failed transfer is reported and the snapshot is sent again', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    c.crash('c');
    for (let i = 0; i < 10; i++) c.raw('a').propose([new TextEncoder().encode(`v${i}`)]);
    c.stabilize();
    compactLeader(c);
    c.restart('c');
    c.tick('a', 1);
    const lost = (m: Message) => m.type !== 'install-snapshot';
    c.stabilize(lost);
    assert.equal(c.raw('a').status().progress.get('c')?.state, 'snapshot');
    c.raw('a').reportSnapshot('c', false);
    assert.equal(c.raw('a').status().progress.get('c')?.state, 'probe');
    const before = c.sent.filter((m) => m.type === 'install-snapshot').length;
    // At the next heartbeat's answer the leader probes, finds c still behind: again.
    c.tick('a', 1);
    c.stabilize(lost);
    const after = c.sent.filter((m) => m.type === 'install-snapshot').length;
    assert.equal(after, before + 1);
    // This time it arrives.
    c.raw('a').reportSnapshot('c', false);
    c.tickAll(2);
    assert.equal(c.raw('c').status().lastIndex, c.raw('a').status().lastIndex);
  });

  test('a finished transfer whose answer is lost: the leader probes from after the snapshot', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.campaign('a');
    c.crash('c');
    for (let i = 0; i < 10; i++) c.raw('a').propose([new TextEncoder().encode(`v${i}`)]);
    c.stabilize();
    const snapshot = compactLeader(c);
    c.restart('c');
    c.tick('a', 1);
    // The snapshot is delivered, c's answer to it lost.
    const cNode = c.get('c');
    c.stabilize(
      (m) => !(m.type === 'append-response' && m.from === 'c' && cNode.restored.length > 0),
    );
    assert.deepEqual(c.get('c').restored, [snapshot]);
    c.raw('a').reportSnapshot('c', true);
    const pr = c.raw('a').status().progress.get('c');
    assert.deepEqual([pr?.state, pr?.next], ['probe', snapshot.index + 1]);
    c.tickAll(2);
    assert.equal(c.raw('a').status().progress.get('c')?.state, 'replicate');
    assert.equal(c.sent.filter((m) => m.type === 'install-snapshot').length, 1, 'sent once');
  });
});

/** A follower `c` of term 2 with `log`, committed to `commit`, for stepping snapshots into. */
function follower(terms: readonly number[], commit: number) {
  const storage = new MemoryStorage({
    entries: logOfTerms(terms),
    hardState: { term: 2, vote: null, commit },
  });
  const raw = new RawNode({
    id: 'c',
    storage,
    membership: members,
    random: seededRandom(3),
    applied: commit,
  });
  const install = (snapshot: SnapshotMeta) => {
    const error = raw.step({ type: 'install-snapshot', from: 'a', to: 'c', term: 2, snapshot });
    assert.equal(error, undefined);
    const rd = raw.ready();
    const answer = rd.messagesAfterPersist.find((m) => m.type === 'append-response') as
      | AppendResponse
      | undefined;
    if (rd.snapshot !== null) storage.installSnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState !== null) storage.setHardState(rd.hardState);
    raw.advance();
    return { rd, answer };
  };
  return { raw, storage, install };
}

describe('a follower given a snapshot', () => {
  test('an older or equal one is answered with the commit index and ignored', () => {
    const f = follower([1, 1, 1, 1, 1, 2, 2, 2, 2, 2], 8);
    for (const index of [3, 8]) {
      const { rd, answer } = f.install(meta(index, 1));
      assert.equal(rd.snapshot, null);
      assert.deepEqual([answer?.success, answer?.index], [true, 8]);
      assert.equal(f.raw.status().lastIndex, 10);
      assert.equal(f.storage.snapshot(), null);
    }
  });

  test('one whose last entry the log holds moves the commit index; the suffix is kept', () => {
    const f = follower([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 3);
    const { rd, answer } = f.install(meta(8, 1));
    assert.equal(rd.snapshot, null, 'nothing to install: the log already holds it');
    assert.deepEqual([answer?.success, answer?.index], [true, 8]);
    // The entries up to the snapshot are applied from the log as usual.
    assert.deepEqual(
      rd.committedEntries.map((e) => e.index),
      [4, 5, 6, 7, 8],
    );
    const s = f.raw.status();
    assert.deepEqual([s.commitIndex, s.firstIndex, s.lastIndex], [8, 1, 12]);
  });

  test('one that disagrees with the log replaces it; nothing is applied until it is restored', () => {
    const f = follower([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 3);
    const snapshot = meta(8, 2);
    f.raw.step({ type: 'install-snapshot', from: 'a', to: 'c', term: 2, snapshot });
    const pending = f.raw.status();
    assert.deepEqual(
      [pending.commitIndex, pending.firstIndex, pending.lastIndex, pending.snapshotIndex],
      [8, 9, 8, 8],
    );
    assert.equal(f.raw.log().term(8), 2);
    assert.equal(f.raw.log().term(7), undefined, 'the log before the snapshot is gone');
    const rd = f.raw.ready();
    assert.deepEqual(rd.snapshot, snapshot);
    assert.equal(rd.mustSync, true);
    assert.deepEqual(rd.committedEntries, [], 'nothing to apply until the snapshot is restored');
    assert.ok(rd.messages.length === 0, 'the answer waits for the write');
    assert.deepEqual(
      rd.messagesAfterPersist.map((m) => [m.type, (m as AppendResponse).index]),
      [['append-response', 8]],
    );
    f.storage.installSnapshot(snapshot);
    f.raw.advance();
    const s = f.raw.status();
    assert.deepEqual([s.appliedIndex, s.firstIndex, s.lastIndex], [8, 9, 8]);
    assert.deepEqual(f.storage.allEntries(), []);
    // The log continues after it.
    f.raw.step({
      type: 'append',
      from: 'a',
      to: 'c',
      term: 2,
      prevIndex: 8,
      prevTerm: 2,
      commit: 9,
      entries: [entry(9, 2)],
    });
    const next = f.raw.ready();
    assert.deepEqual(
      next.committedEntries.map((e) => e.index),
      [9],
    );
  });

  test('a newer snapshot arriving while one is being installed is handed out after it', () => {
    const f = follower([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 3);
    const first = meta(8, 2);
    f.raw.step({ type: 'install-snapshot', from: 'a', to: 'c', term: 2, snapshot: first });
    const rd = f.raw.ready();
    assert.deepEqual(rd.snapshot, first);
    // While its install runs, the leader has compacted further and sends a newer one.
    const second = meta(12, 2);
    f.raw.step({ type: 'install-snapshot', from: 'a', to: 'c', term: 2, snapshot: second });
    f.storage.installSnapshot(first);
    f.raw.advance();
    assert.equal(f.raw.hasReady(), true, 'the newer snapshot waits to be handed out');
    const next = f.raw.ready();
    assert.deepEqual(next.snapshot, second);
    f.storage.installSnapshot(second);
    f.raw.advance();
    const s = f.raw.status();
    assert.deepEqual([s.appliedIndex, s.snapshotIndex], [12, 12]);
  });

  test('a malformed snapshot is refused and changes nothing', () => {
    const f = follower([1, 1, 1], 1);
    const bad = [
      { index: 0, term: 1, membership: members },
      { index: 5, term: 3, membership: members }, // a term beyond the message's
      { index: 5, term: 1, membership: { voters: [], learners: [] } },
      { index: 5, term: 1, membership: { voters: ['a', 'a'], learners: [] } },
    ];
    for (const snapshot of bad) {
      const error = f.raw.step({ type: 'install-snapshot', from: 'a', to: 'c', term: 2, snapshot });
      assert.ok(error !== undefined, JSON.stringify(snapshot));
    }
    assert.equal(f.raw.hasReady(), false);
  });
});
