/**
 * Two builds of raftkit side by side, for a change's effect on a noisy machine: a
 * `raftkit cluster` from each checkout (this one, A, and `--other DIR`, B, both built), the
 * same closed-loop puts alternating between them in short rounds, and per concurrency the
 * median and range of each side's throughput and p50, and B ÷ A.
 *
 *   npx tsx bench/ab.ts --other /path/to/other/checkout [--concurrency 1,64] [--rounds 6] [--seconds 3]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { flag } from './args.js';
import { startRaftkit, stopped } from './clusters.js';
import { closedLoop, median, spread } from './load.js';

const other = flag('--other');
if (other === undefined) throw new Error('--other DIR (a built checkout) is required');
const levels = (flag('--concurrency') ?? '1,64').split(',').map(Number);
const ROUNDS = Number(flag('--rounds') ?? 6);
const SECONDS = Number(flag('--seconds') ?? 3);
const parent = resolve(flag('--dir') ?? 'bench/results');
mkdirSync(parent, { recursive: true });
const dir = mkdtempSync(join(parent, 'ab-'));
const children: ChildProcess[] = [];
try {
  const a = await startRaftkit(join(dir, 'a'), children);
  const b = await startRaftkit(join(dir, 'b'), children, [], resolve(other, 'bin/raftkit.js'));
  for (const c of levels) {
    const got = { a: [] as number[], b: [] as number[], pa: [] as number[], pb: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      const ra = await closedLoop(c, SECONDS, a.put);
      const rb = await closedLoop(c, SECONDS, b.put);
      got.a.push(ra.perSecond);
      got.b.push(rb.perSecond);
      got.pa.push(ra.p50Ms);
      got.pb.push(rb.p50Ms);
    }
    console.log(
      `c${c}: A ${Math.round(median(got.a))}/s (${spread(got.a)}) p50 ${median(got.pa).toFixed(2)} ms | B ${Math.round(median(got.b))}/s (${spread(got.b)}) p50 ${median(got.pb).toFixed(2)} ms | B÷A ${(median(got.b) / median(got.a)).toFixed(2)}; per round B÷A ${got.b.map((x, i) => (x / (got.a[i] as number)).toFixed(2)).join(' ')}`,
    );
  }
} finally {
  await Promise.all(children.map(stopped));
  rmSync(dir, { recursive: true, force: true });
}
