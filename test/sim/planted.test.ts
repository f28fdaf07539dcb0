/**
 * The simulator has teeth: each planted bug (test/sim/planted.ts) that `npm run sim:planted`
 * caught, recorded in bench/results/planted.json, is caught again by the same seed, and the
 * clean build passes that seed. (Which bugs are caught, and within how many seeds, is in the
 * README; the ones not caught yet are the simulator's open work.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { simulate } from '../../src/sim/index.js';
import { plantedBugs, plantedSimulator } from './planted.js';

interface Recorded {
  readonly bug: string;
  readonly caught: { readonly seed: number; readonly nodes: number; readonly kind: string } | null;
}

const recorded = JSON.parse(
  readFileSync(new URL('../../bench/results/planted.json', import.meta.url), 'utf8'),
) as Recorded[];

test('each planted bug the simulator caught is caught again by its recorded seed', async () => {
  const caught = recorded.filter((r) => r.caught !== null);
  assert.ok(caught.length >= 1, 'no planted bug is caught');
  for (const r of caught) {
    const bug = plantedBugs.find((b) => b.name === r.bug);
    assert.ok(bug !== undefined, `unknown bug ${r.bug}`);
    const { seed, nodes, kind } = r.caught as NonNullable<Recorded['caught']>;
    const planted = await (await plantedSimulator(bug))({ seed, nodes });
    assert.equal(planted.ok, false, `${bug.name} was not caught by seed ${seed}`);
    assert.equal(planted.failure?.kind, kind);
    const clean = await simulate({ seed, nodes });
    assert.ok(clean.ok, `seed ${seed} fails without the bug: ${clean.failure?.message}`);
  }
});
