/**
 * The simulator's own parts: virtual time runs events in order, a paused actor's events wait
 * (its clock stopped), a dead actor's never run; a drifting clock; the same seed draws the same
 * schedule; the invariants catch each kind of violation they are fed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry } from '../../src/core/index.js';
import { MemoryStorage } from '../../src/core/index.js';
import { SimClock } from '../../src/sim/clock.js';
import {
  Actor,
  defaultFaultProfile,
  drawSchedule,
  parseProfile,
  Scheduler,
  SimRandom,
} from '../../src/sim/index.js';
import { Invariants, type LogView } from '../../src/sim/invariants.js';
import { EventRateWatch } from '../../src/sim/livelock.js';

async function runAll(s: Scheduler, until = 1e9): Promise<void> {
  while (await s.step(until)) {}
}

test('events run in time order, ties in the order they were queued', async () => {
  const s = new Scheduler();
  const seen: string[] = [];
  s.at(5, null, () => seen.push('b'));
  s.at(1, null, () => seen.push('a'));
  s.at(5, null, () => seen.push('c'));
  s.at(3, null, () => s.after(2, null, () => seen.push('d')));
  await runAll(s);
  assert.deepEqual(seen, ['a', 'b', 'c', 'd']);
  assert.equal(s.now, 5);
});

test('promises set off by an event settle before the next event', async () => {
  const s = new Scheduler();
  const seen: string[] = [];
  s.at(1, null, () => {
    void Promise.resolve()
      .then(() => Promise.resolve())
      .then(() => seen.push('chain'));
  });
  s.at(1, null, () => seen.push('next'));
  await runAll(s);
  assert.deepEqual(seen, ['chain', 'next']);
});

test("a paused actor's events wait with their remaining delay; a dead actor's never run", async () => {
  const s = new Scheduler();
  const a = new Actor('a');
  const b = new Actor('b');
  const seen: [string, number][] = [];
  s.at(10, a, () => seen.push(['a', s.now]));
  s.at(10, b, () => seen.push(['b', s.now]));
  s.at(2, null, () => s.pause(a));
  s.at(4, null, () => s.kill(b));
  s.at(50, null, () => s.resume(a));
  await runAll(s);
  // a was due 8 ms after its pause; it runs 8 ms after the resume.
  assert.deepEqual(seen, [['a', 58]]);
  assert.equal(a.pausedTotal, 48);
});

test('a node clock drifts at its rate and stops while its actor is paused', async () => {
  const s = new Scheduler();
  const actor = new Actor('n');
  const clock = new SimClock(s, actor, 1000);
  clock.setRate(2);
  s.at(10, null, () => s.pause(actor));
  s.at(30, null, () => s.resume(actor));
  let fired = -1;
  clock.setTimer(40, () => {
    fired = s.now;
  });
  await runAll(s, 15);
  assert.equal(clock.now(), 1000 + 2 * 10);
  await runAll(s);
  // 40 local ms at rate 2 are 20 virtual ms, shifted by the 20 ms pause.
  assert.equal(fired, 40);
});

test('a seed draws the same schedule; profiles parse and refuse nonsense', () => {
  const a = drawSchedule(new SimRandom(9), defaultFaultProfile, 5, 20_000);
  const b = drawSchedule(new SimRandom(9), defaultFaultProfile, 5, 20_000);
  assert.deepEqual(a, b);
  assert.ok(a.length > 5);
  assert.notDeepEqual(drawSchedule(new SimRandom(10), defaultFaultProfile, 5, 20_000), a);
  assert.equal(parseProfile('crash=0.5').crash, 0.5);
  assert.equal(parseProfile('none').lossy, 0);
  assert.throws(() => parseProfile('crash=2'), /probability/);
  assert.throws(() => parseProfile('meteor=0.1'), /unknown fault meteor/);
});

const entry = (index: number, term: number, text = `${index}`): Entry => ({
  index,
  term,
  kind: 'command',
  data: new TextEncoder().encode(text),
});

/** Read through a function: an assertion that it was null must not narrow later reads. */
const violationOf = (i: Invariants): string => i.violation?.message ?? '';

test('a livelock is a rate over its bound for seconds in a row, not a burst', () => {
  const burst = new EventRateWatch(100);
  let executed = 0;
  // One busy second (a follower catching up), then a quiet one, then another busy one.
  for (const [second, events] of [
    [0, 500],
    [1, 10],
    [2, 500],
    [3, 500],
  ] as const) {
    for (let i = 0; i < events; i++) {
      assert.equal(burst.observe(second * 1000 + i / events, executed++), null);
    }
  }
  assert.equal(burst.peak, 499); // counted before each event runs
  const busy = new EventRateWatch(100);
  executed = 0;
  let alarm: string | null = null;
  for (let second = 0; second < 5 && alarm === null; second++) {
    for (let i = 0; i < 200 && alarm === null; i++) {
      alarm = busy.observe(second * 1000 + i, executed++);
    }
  }
  assert.match(alarm ?? '', /more than 100 events in each of virtual seconds 0–2: a livelock/);
  // A second far over the bound is enough.
  const surge = new EventRateWatch(100);
  executed = 0;
  alarm = null;
  for (let i = 0; i < 1000 && alarm === null; i++)
    alarm = surge.observe(1500 + i / 1000, executed++);
  assert.match(alarm ?? '', /more than 500 events in virtual second 1: a livelock/);
  assert.equal(executed, 502);
  // Seconds with no event in between break the run.
  const gaps = new EventRateWatch(100);
  executed = 0;
  for (const second of [0, 1, 3, 4]) {
    for (let i = 0; i < 200; i++) assert.equal(gaps.observe(second * 1000 + i, executed++), null);
  }
});

test('the invariants catch each violation they are shown', () => {
  const two = new Invariants();
  two.leaderElected('a', 3, new MemoryStorage());
  two.leaderElected('b', 3, new MemoryStorage());
  assert.match(violationOf(two), /election safety: a and b both lead term 3/);

  const votes = new Invariants();
  const vote = { type: 'vote-response', term: 4, preVote: false, granted: true } as const;
  votes.sent({ ...vote, from: 'a', to: 'b' });
  votes.sent({ ...vote, from: 'a', to: 'b' });
  assert.equal(votes.violation, null);
  votes.sent({ ...vote, from: 'a', to: 'c' });
  assert.match(violationOf(votes), /one vote per term: a voted for b and for c in term 4/);
  // A candidate's request is its vote for itself.
  const self = new Invariants();
  self.sent({ ...vote, from: 'a', to: 'b' });
  const request = { type: 'vote', from: 'a', lastIndex: 0, lastTerm: 0, transfer: false } as const;
  self.sent({ ...request, term: 5, preVote: false, to: 'b' });
  self.sent({ ...request, term: 4, preVote: true, to: 'b' });
  assert.equal(self.violation, null);
  self.sent({ ...request, term: 4, preVote: false, to: 'c' });
  assert.match(violationOf(self), /one vote per term: a voted for b and for a in term 4/);

  const logs = new Invariants();
  logs.written('a', 1, [entry(1, 1), entry(2, 1)], 0);
  logs.written('b', 1, [entry(2, 1)], 1);
  assert.equal(logs.violation, null);
  logs.written('c', 1, [entry(2, 1, 'other')], 1);
  assert.match(violationOf(logs), /log matching: a and c hold different commands at index 2/);
  const history = new Invariants();
  history.written('a', 2, [entry(3, 2)], 1);
  history.written('b', 2, [entry(3, 2)], 2);
  assert.match(violationOf(history), /different histories/);

  // Acknowledged entries may be replaced by a later term's leader, never cut in the same term.
  const ack = { type: 'append-response', success: true, hintIndex: 0, hintTerm: 0 } as const;
  const acked = new Invariants();
  acked.written('b', 2, [entry(1, 2), entry(2, 2), entry(3, 2)], 0);
  acked.sent({ ...ack, term: 2, from: 'b', to: 'a', index: 3 });
  acked.sent({ ...ack, term: 2, from: 'b', to: 'a', index: 1 });
  acked.written('b', 2, [entry(3, 2), entry(4, 2)], 2);
  acked.written('b', 3, [entry(2, 3)], 2);
  assert.equal(acked.violation, null);
  acked.sent({ ...ack, term: 3, from: 'b', to: 'c', index: 2 });
  acked.written('b', 3, [entry(2, 3)], 2);
  assert.equal(acked.violation, null);
  acked.written('b', 3, [entry(1, 2)], 0);
  assert.match(
    violationOf(acked),
    /acknowledged entries kept: b acknowledged its log up to 2 in term 3, then cut it back to 1/,
  );

  // A node whose disk was wiped promised nothing on its new disk (simulator seed 5282).
  const wiped = new Invariants();
  let disk = 'b';
  wiped.incarnation = (id) => (id === 'b' ? disk : id);
  wiped.sent({ ...ack, term: 1, from: 'b', to: 'a', index: 27 });
  disk = 'b#wiped1';
  wiped.written('b', 1, [entry(1, 1), entry(2, 1)], 0);
  assert.equal(wiped.violation, null);
  wiped.sent({ ...ack, term: 1, from: 'b', to: 'a', index: 2 });
  wiped.written('b', 1, [entry(1, 1)], 0);
  assert.match(
    violationOf(wiped),
    /b acknowledged its log up to 2 in term 1, then cut it back to 1/,
  );

  const applied = new Invariants();
  applied.applied('a', 5, 2, new Uint8Array([1]), 2, 4);
  applied.applied('b', 5, 2, new Uint8Array([1]), 3, 4);
  assert.equal(applied.violation, null);
  applied.applied('c', 5, 3, new Uint8Array([1]), 3, 4);
  assert.match(violationOf(applied), /state machine safety/);

  const completeness = new Invariants();
  completeness.applied('a', 1, 1, new Uint8Array([1]), 4, 0);
  completeness.applied('c', 1, 1, new Uint8Array([1]), 3, 0);
  const log = new MemoryStorage({ entries: [entry(1, 2)] });
  // A leader of an older term than any that knew the entry committed may lack it.
  completeness.leaderElected('d', 2, log);
  assert.equal(completeness.violation, null);
  completeness.leaderElected('b', 3, log);
  assert.match(violationOf(completeness), /leader completeness: b leads term 3 without entry 1/);

  // Entry 2 of term 1 is applied: a node lacking it must not be electable by a majority.
  const abc = ['a', 'b', 'c'];
  const view = (
    id: string,
    terms: number[],
    voters: string[] = abc,
    outgoing: string[] = [],
  ): LogView => ({
    id,
    lastIndex: terms.length,
    lastTerm: terms[terms.length - 1] ?? 0,
    snapshotIndex: 0,
    term: (index) => terms[index - 1],
    voters: new Set(voters),
    outgoing: new Set(outgoing),
  });
  const safe = new Invariants();
  safe.applied('a', 2, 1, new Uint8Array([1]), 1, 1);
  // c lacks it, but a and b are more up to date (figure 8 once the entry is truly committed).
  safe.checkElectable([view('a', [1, 1]), view('b', [1, 1]), view('c', [1])]);
  // Of five, b and e (which hold it) are down: c and d lack it, but only they would vote for c.
  const five = ['a', 'b', 'c', 'd', 'e'];
  safe.checkElectable([view('a', [1, 1], five), view('c', [1], five), view('d', [1], five)]);
  // c's configuration is joint: (c d) would elect it, but not (a b c), where a holds the entry.
  safe.checkElectable([
    view('a', [1, 1], abc),
    view('c', [1], ['c', 'd'], abc),
    view('d', [1], ['c', 'd'], abc),
  ]);
  // A learner (no voter in its own configuration) lacking it stands for nothing.
  safe.checkElectable([view('a', [1, 1]), view('l', [1, 2]), view('b', [1])]);
  assert.equal(safe.violation, null);
  // A wrong commit: only a holds it, and c's later-term log would win every vote.
  safe.checkElectable([view('a', [1, 1]), view('b', [1]), view('c', [1, 2])]);
  assert.match(
    violationOf(safe),
    /committed entries safe: c lacks entry 2 \(term 1, applied by a\), yet its log \(last entry 2, term 2\) is as up to date as those of a, b, c/,
  );

  // Configurations: applied in log order within a life, the same one at an index everywhere.
  const configs = new Invariants();
  configs.configurationApplied('a', 5, '{"voters":["a","b"]}', 0);
  configs.configurationApplied('b', 5, '{"voters":["a","b"]}', 0);
  configs.configurationApplied('a', 9, '{"voters":["a"]}', 5);
  assert.equal(configs.violation, null);
  configs.configurationApplied('b', 4, '{"voters":["a"]}', 5);
  assert.match(
    violationOf(configs),
    /configurations in log order: b applied the configuration at 4 after the one at 5/,
  );
  const agree = new Invariants();
  agree.configurationApplied('a', 5, '{"voters":["a","b"]}', 0);
  agree.configurationApplied('c', 5, '{"voters":["a","c"]}', 0);
  assert.match(violationOf(agree), /configurations agree: a applied .* at 5, c applied/);

  const commit = new Invariants();
  commit.commitMoved('a', 4, 4);
  assert.equal(commit.violation, null);
  commit.commitMoved('a', 4, 3);
  assert.match(violationOf(commit), /commit monotonic/);
});

test('the invariants of snapshots, each fired by a case that breaks it and quiet otherwise', () => {
  const cmd = new Uint8Array([7]);
  const meta = (index: number, term: number) => ({
    index,
    term,
    membership: { voters: ['a'], learners: [] },
  });

  // A node's state machine passing over a command another node applied.
  const skipped = new Invariants();
  skipped.applied('a', 3, 1, cmd, 1, 2);
  skipped.applied('a', 5, 1, cmd, 1, 3);
  skipped.applied('b', 3, 1, cmd, 1, 0); // 1 and 2 were no commands (none applied there)
  assert.equal(skipped.violation, null);
  skipped.applied('b', 6, 1, cmd, 1, 3);
  assert.match(
    violationOf(skipped),
    /no command skipped: b applied entry 6 after 3, passing over the command at 5 \(term 1, applied by a\)/,
  );

  const agreement = new Invariants();
  agreement.applied('a', 4, 2, cmd, 2, 3);
  agreement.snapshotTaken('a', meta(4, 2), 'state-x', 4);
  agreement.snapshotReceived('b', meta(4, 2));
  agreement.snapshotRestored('b', meta(4, 2), 'state-x');
  agreement.snapshotTaken('c', meta(4, 2), 'state-x', 5);
  assert.equal(agreement.violation, null);
  agreement.snapshotRestored('c', meta(4, 2), 'state-y');
  assert.match(
    violationOf(agreement),
    /snapshot agreement: c restores a state at 4 unlike the one a snapshotted there/,
  );
  const terms = new Invariants();
  terms.snapshotTaken('a', meta(4, 2), 'state-x', 4);
  terms.snapshotTaken('b', meta(4, 3), 'state-x', 4);
  assert.match(violationOf(terms), /snapshot agreement: b takes a snapshot at 4 of term 3; a's/);

  const ofApplied = new Invariants();
  ofApplied.applied('a', 4, 2, cmd, 2, 3);
  ofApplied.snapshotTaken('b', meta(4, 1), 'state-x', 4);
  assert.match(
    violationOf(ofApplied),
    /snapshot of committed entries: b takes a snapshot at 4 of term 1; the entry applied there is of term 2/,
  );
  const uncommitted = new Invariants();
  uncommitted.snapshotTaken('a', meta(4, 2), 'state-x', 3);
  assert.match(
    violationOf(uncommitted),
    /snapshot of committed entries: a takes a snapshot at 4 with its commit index at 3/,
  );

  const compaction = new Invariants();
  compaction.compacted('a', 10, 10);
  compaction.compacted('a', 0, 0);
  assert.equal(compaction.violation, null);
  compaction.compacted('a', 11, 10);
  assert.match(
    violationOf(compaction),
    /compaction behind a durable snapshot: a compacts its log up to 11/,
  );

  const unknown = new Invariants();
  unknown.snapshotRestored('a', meta(9, 1), 'state-x');
  assert.match(violationOf(unknown), /restored state snapshotted: a restored a snapshot at 9/);

  // Installing a snapshot below what the follower acknowledged in this term cuts its log.
  const ack = { type: 'append-response', success: true, hintIndex: 0, hintTerm: 0 } as const;
  const install = new Invariants();
  install.sent({ ...ack, term: 3, from: 'b', to: 'a', index: 6 });
  install.installed('b', 4, meta(5, 3), []); // a later term: the promise was for term 3
  install.installed('b', 3, meta(5, 3), [entry(6, 3)]);
  assert.equal(install.violation, null);
  install.installed('b', 3, meta(5, 3), []);
  assert.match(violationOf(install), /acknowledged entries kept: b acknowledged its log up to 6/);

  // A leader whose snapshot covers an applied entry holds it; the entry at its index must match.
  const covered = new Invariants();
  covered.applied('a', 2, 1, cmd, 1, 1);
  covered.applied('a', 3, 1, cmd, 1, 2);
  const compacted = new MemoryStorage({ entries: [entry(1, 1), entry(2, 1), entry(3, 1)] });
  compacted.createSnapshot(meta(3, 1));
  compacted.compact(3);
  covered.leaderElected('b', 2, compacted);
  assert.equal(covered.violation, null);
  // And a node whose snapshot covers the latest applied entry holds it.
  const view = (snapshotIndex: number, lastIndex: number, lastTerm: number): LogView => ({
    id: 'c',
    lastIndex,
    lastTerm,
    snapshotIndex,
    term: (index) => (index === snapshotIndex ? 1 : undefined),
    voters: new Set(['c']),
    outgoing: new Set(),
  });
  covered.checkElectable([view(3, 3, 1), view(3, 3, 1)]);
  covered.checkElectable([view(4, 4, 1), view(4, 4, 1)]);
  assert.equal(covered.violation, null);
  covered.checkElectable([view(2, 2, 1), view(2, 2, 2), view(0, 0, 0)]);
  assert.match(violationOf(covered), /committed entries safe: c lacks entry 3/);
});
