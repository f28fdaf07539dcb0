import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Inflights } from '../../src/core/inflights.js';
import { Progress } from '../../src/core/progress.js';

describe('inflights', () => {
  test('is bounded in messages and in bytes, and frees what is acknowledged', () => {
    const w = new Inflights(3, 1000);
    w.add(5, 100);
    w.add(9, 100);
    assert.equal(w.full(), false);
    w.add(12, 100);
    assert.equal(w.full(), true, 'three messages fill a window of three');
    assert.throws(() => w.add(13, 1), /overflow/);
    w.freeTo(9);
    assert.equal(w.count, 1);
    assert.equal(w.bytes, 100);
    w.add(20, 950);
    assert.equal(w.full(), true, '1050 bytes pass the byte limit');
    w.freeFirst();
    assert.equal(w.count, 1);
    w.freeTo(100);
    assert.equal(w.count, 0);
    assert.equal(w.bytes, 0);
  });

  test('wraps around its ring buffer', () => {
    const w = new Inflights(2, 1 << 20);
    for (let i = 1; i <= 50; i++) {
      w.add(i, 1);
      if (w.full()) w.freeTo(i - 1);
      assert.ok(w.count <= 2);
    }
    w.freeTo(50);
    assert.equal(w.count, 0);
  });

  test('rejects indexes that do not increase', () => {
    const w = new Inflights(4, 1000);
    w.add(5, 1);
    assert.throws(() => w.add(5, 1), /inflight index/);
  });
});

describe('progress', () => {
  test('probe sends one message at a time', () => {
    const pr = new Progress(0, 6, 8, 1 << 20);
    assert.equal(pr.isPaused(), false);
    pr.sentEntries(8, 10);
    assert.equal(pr.isPaused(), true);
    assert.equal(pr.next, 6, 'probe does not move next optimistically');
  });

  test('replicate streams until the window is full', () => {
    const pr = new Progress(5, 6, 2, 1 << 20);
    pr.becomeReplicate();
    pr.sentEntries(7, 10);
    assert.equal(pr.next, 8);
    pr.sentEntries(9, 10);
    assert.equal(pr.isPaused(), true);
    assert.equal(pr.maybeUpdate(7), true);
    pr.inflights.freeTo(7);
    assert.equal(pr.isPaused(), false);
  });

  test('a rejection in replicate falls back to match + 1; stale ones are ignored', () => {
    const pr = new Progress(5, 6, 8, 1 << 20);
    pr.becomeReplicate();
    pr.sentEntries(10, 10);
    assert.equal(pr.maybeDecreaseTo(4, 0), false, 'below match: stale');
    assert.equal(pr.maybeDecreaseTo(7, 0), true);
    assert.equal(pr.next, 6);
  });

  test('a rejection in probe uses the hint, never going below match + 1', () => {
    const pr = new Progress(2, 10, 8, 1 << 20);
    pr.sentEntries(10, 1);
    assert.equal(pr.maybeDecreaseTo(8, 3), false, 'not the outstanding probe: stale');
    assert.equal(pr.maybeDecreaseTo(9, 4), true);
    assert.equal(pr.next, 5, 'jumps to the hint + 1');
    assert.equal(pr.isPaused(), false);
    pr.sentEntries(5, 1);
    assert.equal(pr.maybeDecreaseTo(4, 0), true);
    assert.equal(pr.next, 3, 'never below match + 1');
  });

  test('success moves match and next, stale success changes nothing', () => {
    const pr = new Progress(0, 4, 8, 1 << 20);
    assert.equal(pr.maybeUpdate(6), true);
    assert.deepEqual([pr.match, pr.next], [6, 7]);
    assert.equal(pr.maybeUpdate(5), false);
    assert.deepEqual([pr.match, pr.next], [6, 7]);
  });
});
