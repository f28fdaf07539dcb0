/**
 * The dashboard's seconds of activity: logarithmic buckets whose bound is within 19% of any
 * value in them, percentiles of merged histograms, seconds closed as time passes (idle ones
 * kept as zeros), five minutes kept.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ACTIVITY_BUCKETS,
  bucketBoundMs,
  bucketOf,
  type Histogram,
  mergeHistogram,
  quantileMs,
  RecentActivity,
} from '../../src/kv/activity.js';

test('a bucket bound is at or above its values and within 19% of them', () => {
  for (const ms of [0.011, 0.05, 0.3, 1, 1.7, 9.99, 42, 250, 1000, 60_000]) {
    const bound = bucketBoundMs(bucketOf(ms));
    assert.ok(bound >= ms - 1e-9, `${ms} -> ${bound}`);
    assert.ok(bound <= ms * 1.19, `${ms} -> ${bound}`);
  }
  assert.equal(bucketOf(0), 0);
  assert.equal(bucketOf(-1), 0);
  assert.equal(bucketOf(Number.NaN), 0);
  assert.equal(bucketOf(1e12), ACTIVITY_BUCKETS - 1);
});

test('percentiles of merged histograms', () => {
  const a: Histogram = {};
  const b: Histogram = {};
  for (let i = 0; i < 98; i++) a[bucketOf(1)] = (a[bucketOf(1)] ?? 0) + 1;
  b[bucketOf(100)] = 2;
  const merged: Histogram = {};
  mergeHistogram(merged, a);
  mergeHistogram(merged, b);
  assert.equal(quantileMs(merged, 0.5), bucketBoundMs(bucketOf(1)));
  assert.equal(quantileMs(merged, 0.98), bucketBoundMs(bucketOf(1)));
  assert.equal(quantileMs(merged, 0.99), bucketBoundMs(bucketOf(100)));
  assert.equal(quantileMs({}, 0.5), null);
});

test('seconds close as time passes; idle seconds are zeros; five minutes are kept', () => {
  let now = 1_000_000_500;
  const activity = new RecentActivity(() => now);
  activity.write(2);
  activity.write(3);
  activity.read(0.5);
  activity.fsync(1);
  assert.deepEqual(activity.since(0), [], 'the open second is not reported');
  now += 3000;
  const closed = activity.since(0);
  assert.deepEqual(
    closed.map((s) => [s.t, s.writes, s.reads]),
    [
      [1_000_000_000, 2, 1],
      [1_000_001_000, 0, 0],
      [1_000_002_000, 0, 0],
    ],
  );
  assert.deepEqual(closed[0]?.fsyncMs, { [bucketOf(1)]: 1 });
  assert.deepEqual(
    activity.since(1_000_001_000).map((s) => s.t),
    [1_000_002_000],
  );
  now += 3600_000;
  activity.write(1);
  now += 1000;
  const kept = activity.since(0);
  assert.equal(kept.length, 300);
  assert.equal(kept.at(-1)?.writes, 1);
  assert.ok(kept.every((s, i) => i === 0 || s.t - (kept[i - 1] as { t: number }).t === 1000));
});
