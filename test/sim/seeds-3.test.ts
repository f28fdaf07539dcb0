/**
 * The simulator on three nodes: a fixed range of seeds, each 20 virtual seconds of clients
 * under faults, must keep every invariant, stay linearizable and recover once healed; across
 * them every kind of fault is injected, and snapshots are taken and installed. `npm run soak` runs random seeds for longer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { faultKinds } from '../../src/sim/index.js';
import { runSeeds, seedRange, totalInjected } from './support.js';

export const SEEDS_3 = 45;

test(`seeds 1 to ${SEEDS_3} on three nodes`, async () => {
  const results = await runSeeds(seedRange(1, SEEDS_3, 3));
  const injected = totalInjected(results);
  for (const k of faultKinds) assert.ok(injected[k] > 0, `no ${k} fault was injected`);
  const ops = results.reduce((n, r) => n + (r.workload.recorded ?? 0), 0);
  assert.ok(ops > SEEDS_3 * 500, `only ${ops} operations recorded`);
  // Faults bite: leaders change and some operations end with their outcome unknown.
  assert.ok(results.some((r) => r.leadersElected > 2));
  assert.ok(results.some((r) => (r.workload.unknown ?? 0) > 0));
  // Half the runs snapshot often: followers that fell behind are sent snapshots.
  const snapshots = results.reduce((n, r) => n + r.cluster.snapshots, 0);
  const installs = results.reduce((n, r) => n + r.cluster.installs, 0);
  assert.ok(snapshots > SEEDS_3 * 5, `only ${snapshots} snapshots taken`);
  assert.ok(installs >= 10, `only ${installs} snapshots installed`);
  const cut = results.reduce((n, r) => n + r.cluster.snapshotCrashes, 0);
  assert.ok(cut >= 3, `only ${cut} power cuts landed in a snapshot step`);
  // Half the runs change members as they go, through the joint configuration too.
  const changes = results.reduce((n, r) => n + r.cluster.memberChanges, 0);
  const refused = results.reduce((n, r) => n + r.cluster.memberRefusals, 0);
  const joint = results.reduce((n, r) => n + r.cluster.jointChanges, 0);
  assert.ok(changes >= 30, `only ${changes} membership changes applied`);
  assert.ok(refused >= 1, 'no membership change was refused or lost');
  assert.ok(joint >= 1, 'no change went through a joint configuration');
});
