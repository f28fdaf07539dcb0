/**
 * The simulator has teeth: each planted bug (test/sim/planted.ts) that `npm run sim:planted`
 * caught, recorded in bench/results/planted.json, is caught again by the same seed, and the
 * clean build passes that seed. The shrinker then reduces one such failure to fewer faults
 * that still fail the same way and replay with `keep`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseProfile, simulate } from '../../src/sim/index.js';
import { plantedBugs, plantedBuild } from './planted.js';

interface Caught {
  readonly seed: number;
  readonly nodes: number;
  readonly kind: string;
  /** A fault profile other than the default (`raftkit sim --faults`'s spec), for a rare bug. */
  readonly profile?: string;
}

interface Recorded {
  readonly bug: string;
  readonly caught: Caught | null;
}

const recorded = JSON.parse(
  readFileSync(new URL('../../bench/results/planted.json', import.meta.url), 'utf8'),
) as Recorded[];

const caught = recorded.filter((r): r is Recorded & { caught: Caught } => r.caught !== null);

const bugNamed = (name: string) => {
  const bug = plantedBugs.find((b) => b.name === name);
  assert.ok(bug !== undefined, `unknown bug ${name}`);
  return bug;
};

test('each planted bug the simulator caught is caught again by its recorded seed', async () => {
  assert.ok(caught.length >= 4, `only ${caught.length} planted bugs are caught`);
  for (const bug of plantedBugs) {
    assert.ok(
      caught.some((c) => c.bug === bug.name),
      `planted bug ${bug.name} has no recorded catch (npm run sim:planted -- --bug ${bug.name})`,
    );
  }
  for (const r of caught) {
    const { seed, nodes, kind } = r.caught;
    const options = {
      seed,
      nodes,
      ...(r.caught.profile === undefined ? {} : { profile: parseProfile(r.caught.profile) }),
    };
    const planted = await (await plantedBuild(bugNamed(r.bug))).simulate(options);
    assert.equal(planted.ok, false, `${r.bug} was not caught by seed ${seed}`);
    assert.equal(planted.failure?.kind, kind, `${r.bug}: ${planted.failure?.message}`);
    const clean = await simulate(options);
    assert.ok(clean.ok, `seed ${seed} fails without the bug: ${clean.failure?.message}`);
  }
});

test('the shrinker keeps the failure and drops faults, and its result replays', async () => {
  // The catch whose failing run is shortest keeps this test quick.
  const r = caught.find((c) => c.bug === 'commit-previous-term') ?? caught[0];
  assert.ok(r !== undefined);
  const build = await plantedBuild(bugNamed(r.bug));
  const options = { seed: r.caught.seed, nodes: r.caught.nodes };
  const failed = await build.simulate(options);
  assert.equal(failed.failure?.kind, r.caught.kind);
  const shrunk = await build.shrink(options, failed, { maxRuns: 25 });
  const { result } = shrunk;
  assert.ok(shrunk.runs <= 25);
  assert.equal(result.failure?.kind, r.caught.kind);
  assert.ok(
    result.schedule.length < failed.schedule.length,
    `${failed.schedule.length} faults shrunk to ${result.schedule.length}`,
  );
  const replay = await build.simulate({ ...options, keep: result.positions });
  assert.equal(replay.failure?.kind, r.caught.kind);
  assert.deepEqual(replay.schedule, result.schedule);
  assert.equal(replay.failure?.message, result.failure?.message);
});
