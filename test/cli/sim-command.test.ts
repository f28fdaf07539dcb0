/**
 * `raftkit sim`, run in process: a run's line and summary, a failing run's replay command
 * (with a planted bug), wrong flags refused in one line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';

async function raftkit(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

test('runs seeds and sums up what was injected', async () => {
  const r = await raftkit(
    'sim',
    '--seed',
    '5',
    '--seeds',
    '2',
    '--nodes',
    '3,5',
    '--duration-ms',
    '4000',
  );
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /^seed 5 \(3 nodes\): ok {2}\d+ ops/m);
  assert.match(r.out, /^seed 6 \(5 nodes\): ok/m);
  assert.match(
    r.out,
    /^2 runs, 0 failed, [\d.]+ runs\/s \(\d+ an hour, 1 at once\); faults injected: crash \d+, /m,
  );
});

test('--jobs 2: the same runs in two worker processes, merged', async () => {
  const args = ['sim', '--seed', '5', '--seeds', '4', '--nodes', '3,5', '--duration-ms', '3000'];
  const one = await raftkit(...args);
  const two = await raftkit(...args, '--jobs', '2');
  assert.equal(two.code, 0, two.out + two.err);
  // A run is decided by its options alone: where it ran changes nothing but its time.
  const runs = (out: string) =>
    out
      .split('\n')
      .filter((l) => l.startsWith('seed '))
      .map((l) => l.replace(/, [\d.]+ s$/, ''))
      .sort();
  assert.deepEqual(runs(two.out), runs(one.out));
  assert.equal(runs(two.out).length, 4);
  const injected = (out: string) => /faults injected: (.*)$/m.exec(out)?.[1];
  assert.equal(injected(two.out), injected(one.out));
  assert.match(two.out, /^4 runs, 0 failed, .*, 2 at once\)/m);
});

test('--verbose lists the schedule; --faults none runs without faults', async () => {
  const r = await raftkit(
    'sim',
    '--seed',
    '2',
    '--duration-ms',
    '3000',
    '--faults',
    'none',
    '--verbose',
  );
  assert.equal(r.code, 0);
  assert.match(r.out, /0 faults/);
  const v = await raftkit('sim', '--seed', '2', '--duration-ms', '6000', '--verbose');
  assert.match(v.out, /^ {4}\d+\.\d{3}s [a-z-]+ /m);
});

test('wrong flags are one line each', async () => {
  for (const [args, message] of [
    [['--nodes', '0'], /expected a positive integer/],
    [['--nodes', '12'], /cluster sizes from 1 to 9/],
    [['--faults', 'meteor=1'], /unknown fault meteor/],
    [['--faults', 'crash=7'], /probability from 0 to 1/],
    [['--seed', '-1'], /integer from 0/],
    [['--keep', 'a,b'], /positions like/],
    [['--minutes', '0'], /expected minutes/],
  ] as const) {
    const r = await raftkit('sim', ...args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.err, message);
  }
  const r = await raftkit('sim', '--seed', '1', '--keep', '999', '--duration-ms', '2000');
  assert.equal(r.code, 1);
  assert.match(r.err, /^raftkit: fault 999 is not in the schedule/);
});
