/**
 * The simulator on five nodes: a fixed range of seeds (see seeds-3.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { faultKinds } from '../../src/sim/index.js';
import { runSeeds, seedRange, totalInjected } from './support.js';

const SEEDS_5 = 35;

test(`seeds 1001 to ${1000 + SEEDS_5} on five nodes`, async () => {
  const results = await runSeeds(seedRange(1001, SEEDS_5, 5));
  const injected = totalInjected(results);
  for (const k of faultKinds) assert.ok(injected[k] > 0, `no ${k} fault was injected`);
  const installs = results.reduce((n, r) => n + r.cluster.installs, 0);
  assert.ok(installs >= 5, `only ${installs} snapshots installed`);
  // Half the runs change members as they go, through the joint configuration too.
  const changes = results.reduce((n, r) => n + r.cluster.memberChanges, 0);
  const refused = results.reduce((n, r) => n + r.cluster.memberRefusals, 0);
  const joint = results.reduce((n, r) => n + r.cluster.jointChanges, 0);
  assert.ok(changes >= 25, `only ${changes} membership changes applied`);
  assert.ok(refused >= 1, 'no membership change was refused or lost');
  assert.ok(joint >= 1, 'no change went through a joint configuration');
});
