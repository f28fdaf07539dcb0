/**
 * What the simulation tests share: running a list of seeds and summing what they injected.
 */
import assert from 'node:assert/strict';
import { type FaultKind, faultKinds, type SimResult, simulate } from '../../src/sim/index.js';

export interface SeedCase {
  readonly seed: number;
  readonly nodes: number;
  readonly keep?: readonly number[];
  readonly note?: string;
}

/** Runs every case; fails with the replay commands of those that failed. */
export async function runSeeds(cases: readonly SeedCase[]): Promise<SimResult[]> {
  const results: SimResult[] = [];
  const failed: string[] = [];
  for (const c of cases) {
    const r = await simulate({ seed: c.seed, nodes: c.nodes, ...(c.keep ? { keep: c.keep } : {}) });
    results.push(r);
    if (!r.ok) failed.push(`${r.failure?.kind}: ${r.failure?.message}\n  replay: ${r.replay}`);
  }
  assert.deepEqual(failed, []);
  return results;
}

export function totalInjected(results: readonly SimResult[]): Record<FaultKind, number> {
  const total = Object.fromEntries(faultKinds.map((k) => [k, 0])) as Record<FaultKind, number>;
  for (const r of results) for (const k of faultKinds) total[k] += r.injected[k];
  return total;
}

export const seedRange = (first: number, count: number, nodes: number): SeedCase[] =>
  Array.from({ length: count }, (_, i) => ({ seed: first + i, nodes }));
