/**
 * Property test: random schedules of message loss, duplication, reordering, partitions, crashes
 * (also in the middle of a write) and restarts, over three and five cores. After every action:
 * at most one leader per term, log matching, leader completeness, state machine safety, no
 * stale read, commit never moving back, one vote per term per node (across restarts). At the
 * end, healed, the cluster must make progress. Each scenario draws its own fault level,
 * election timeout and message size, so calm runs exercise the protocol and wild ones its
 * recovery. Seeds are fixed unless PROPERTY_SEED says otherwise (test/support/property.ts); a
 * failure prints fast-check's seed and path to replay it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { propertySeed } from '../support/property.js';
import { type Action, RandomNetwork } from './random-network.js';

const node = fc.nat(4);
const pick = fc.nat(1000);

/** Actions with fault weights scaled by `faults` (0: none, 3: many). */
function actions(faults: number): fc.Arbitrary<Action[]> {
  const w = (base: number, perFault: number): number => base + perFault * faults;
  const action: fc.Arbitrary<Action> = fc.oneof(
    { weight: 16, arbitrary: fc.constant<Action>({ kind: 'tick-all' }) },
    { weight: 6, arbitrary: node.map<Action>((n) => ({ kind: 'tick', node: n })) },
    { weight: w(1, 2), arbitrary: node.map<Action>((n) => ({ kind: 'campaign', node: n })) },
    { weight: 20, arbitrary: pick.map<Action>((p) => ({ kind: 'deliver', pick: p })) },
    {
      weight: 50,
      arbitrary: fc
        .array(pick, { minLength: 2, maxLength: 12 })
        .map<Action>((picks) => ({ kind: 'deliver-some', picks })),
    },
    { weight: w(14, 4), arbitrary: node.map<Action>((n) => ({ kind: 'ready', node: n })) },
    { weight: 14, arbitrary: node.map<Action>((n) => ({ kind: 'persist', node: n })) },
    { weight: 20, arbitrary: fc.constant<Action>({ kind: 'io-all' }) },
    {
      weight: 15,
      arbitrary: fc
        .tuple(node, fc.nat(1_000_000))
        .map<Action>(([n, v]) => ({ kind: 'propose', node: n, value: v })),
    },
    { weight: 8, arbitrary: node.map<Action>((n) => ({ kind: 'read', node: n })) },
    { weight: w(0, 5), arbitrary: pick.map<Action>((p) => ({ kind: 'drop', pick: p })) },
    { weight: w(0, 2), arbitrary: pick.map<Action>((p) => ({ kind: 'duplicate', pick: p })) },
    {
      weight: w(0, 2),
      arbitrary: fc
        .tuple(node, fc.nat(10))
        .map<Action>(([n, k]) => ({ kind: 'restart', node: n, keepEntries: k })),
    },
    {
      weight: w(0, 2),
      arbitrary: fc
        .tuple(pick, fc.nat(10))
        .map<Action>(([p, k]) => ({ kind: 'crash-writing', pick: p, keepEntries: k })),
    },
    { weight: w(0, 1), arbitrary: node.map<Action>((n) => ({ kind: 'isolate', node: n })) },
    { weight: 2, arbitrary: fc.constant<Action>({ kind: 'heal' }) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(node, fc.nat(6))
        .map<Action>(([n, keep]) => ({ kind: 'compact', node: n, keep })),
    },
  );
  return fc.array(action, { minLength: 300, maxLength: 800, size: 'max' });
}

export const scenario = fc
  .record({
    preVote: fc.boolean(),
    checkQuorum: fc.boolean(),
    seed: fc.nat(1_000_000),
    faults: fc.integer({ min: 0, max: 3 }),
    electionTicks: fc.integer({ min: 3, max: 10 }),
    maxAppendBytes: fc.constantFrom(1, 200, 4096),
  })
  .chain((s) => actions(s.faults).map((list) => ({ ...s, actions: list })));

describe('Raft safety under random faults (property)', () => {
  for (const size of [3, 5]) {
    test(`${size} nodes: safety after every step, progress once healed`, (t) => {
      const totals = { leaders: 0, commits: 0, reads: 0, compactions: 0, installed: 0 };
      // Appends seen, and appends that carried several entries, by the byte limit drawn.
      const appends = new Map<number, { all: number; batched: number }>();
      const electionTicksSeen = new Set<number>();
      fc.assert(
        fc.property(scenario, (s) => {
          const { preVote, checkQuorum, seed, electionTicks, maxAppendBytes, actions } = s;
          const net = new RandomNetwork({
            size,
            preVote,
            checkQuorum,
            seed,
            electionTicks,
            maxAppendBytes,
          });
          net.run(actions);
          net.converge(300);
          totals.leaders += net.stats.leaders;
          totals.commits += net.stats.commits;
          totals.reads += net.stats.reads;
          totals.compactions += net.stats.compactions;
          totals.installed += net.stats.snapshotsInstalled;
          const seen = appends.get(maxAppendBytes) ?? { all: 0, batched: 0 };
          seen.all += net.stats.appends;
          seen.batched += net.stats.batchedAppends;
          appends.set(maxAppendBytes, seen);
          electionTicksSeen.add(electionTicks);
        }),
        {
          numRuns: 1000,
          // Bounds the whole run, shrinking included: a failure is reported within a minute
          // with the smallest counterexample found so far (and the seed and path to replay it).
          interruptAfterTimeLimit: 60_000,
          markInterruptAsFailure: true,
          ...propertySeed(),
        },
      );
      t.diagnostic(
        `${totals.leaders} leaders, ${totals.commits} entries committed, ${totals.reads} reads checked`,
      );
      // The schedules must actually exercise the protocol, or the property proves nothing.
      assert.ok(totals.leaders > 1000, `${totals.leaders} leaders elected`);
      assert.ok(totals.commits > 5000, `${totals.commits} entries committed`);
      assert.ok(totals.reads > 1000, `${totals.reads} reads answered`);
      // Logs were compacted, and followers behind them caught up by snapshot.
      t.diagnostic(`${totals.compactions} compactions, ${totals.installed} snapshots installed`);
      assert.ok(totals.compactions > 1000, `${totals.compactions} compactions`);
      assert.ok(totals.installed > 50, `${totals.installed} snapshots installed`);
      // The drawn settings reach the cores: a 1-byte limit sends every entry alone (the
      // network checks each append against its limit), a 4 KiB one batches.
      const tiny = appends.get(1);
      const large = appends.get(4096);
      t.diagnostic(`appends by byte limit: ${JSON.stringify([...appends])}`);
      assert.ok(tiny !== undefined && tiny.all > 1000 && tiny.batched === 0);
      assert.ok(large !== undefined && large.batched > 500, `${large?.batched} batched appends`);
      assert.equal(electionTicksSeen.size, 8, 'every election timeout from 3 to 10 ticks drawn');
    });
  }
});
