/**
 * Where one write's time goes: `raftkit cluster` (three processes, fsync on), one client
 * writing 256-byte values one at a time to the leader for a few seconds, then the leader's
 * `raftkit_write_stage_seconds` (see `src/kv/metrics.ts`) read before and after: the mean of
 * each stage, in order, beside the client's own mean. What the stages do not cover is the
 * client's side and the loopback hops (client total − the leader's request time).
 *
 *   npm run bench:trace [-- --seconds 5] [-- --dir PATH]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { flag } from './args.js';
import { startRaftkit, stopped } from './clusters.js';
import { closedLoop } from './load.js';

const SECONDS = Number(flag('--seconds') ?? 5);
const CONCURRENCY = Number(flag('--concurrency') ?? 1);
const parent = resolve(flag('--dir') ?? 'bench/results');
const STAGES = ['parse', 'append', 'local-fsync', 'quorum', 'apply', 'answer'] as const;

/** Sum and count of each labelled series of a histogram in Prometheus text. */
function sums(
  text: string,
  metric: string,
  label: string,
): Map<string, { sum: number; count: number }> {
  const out = new Map<string, { sum: number; count: number }>();
  const re = new RegExp(`^${metric}_(sum|count)\\{${label}="([^"]+)"\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) {
    const entry = out.get(m[2] as string) ?? { sum: 0, count: 0 };
    if (m[1] === 'sum') entry.sum = Number(m[3]);
    else entry.count = Number(m[3]);
    out.set(m[2] as string, entry);
  }
  return out;
}

const children: ChildProcess[] = [];
mkdirSync(parent, { recursive: true });
const dir = mkdtempSync(join(parent, 'trace-'));
try {
  const raftkit = await startRaftkit(dir, children);
  const scrape = async () => (await fetch(new URL('/metrics', raftkit.leader))).text();
  // Warm up (JIT, connections) before the measured window.
  await closedLoop(CONCURRENCY, 1, raftkit.put);
  const before = await scrape();
  const load = await closedLoop(CONCURRENCY, SECONDS, raftkit.put);
  const after = await scrape();
  const delta = (metric: string, label: string, key: string) => {
    const a = sums(after, metric, label).get(key) ?? { sum: 0, count: 0 };
    const b = sums(before, metric, label).get(key) ?? { sum: 0, count: 0 };
    return (a.sum - b.sum) / Math.max(1, a.count - b.count);
  };
  const clientMs = load.ops > 0 ? (SECONDS * 1000 * CONCURRENCY) / load.ops : Number.NaN;
  const stages = STAGES.map((stage) => ({
    stage,
    ms: delta('raftkit_write_stage_seconds', 'stage', stage) * 1000,
  }));
  const requestMs = delta('raftkit_request_duration_seconds', 'op', 'put') * 1000;
  const stageSum = stages.reduce((s, x) => s + x.ms, 0);
  console.log(
    `${load.ops} puts at concurrency ${CONCURRENCY} in ${SECONDS} s: client mean ${clientMs.toFixed(3)} ms, p50 ${load.p50Ms.toFixed(3)} ms, p99 ${load.p99Ms.toFixed(3)} ms`,
  );
  console.log('\n| stage | mean ms | share of the client mean |\n| --- | ---: | ---: |');
  for (const { stage, ms } of stages) {
    console.log(`| ${stage} | ${ms.toFixed(3)} | ${((100 * ms) / clientMs).toFixed(0)}% |`);
  }
  console.log(
    `| the leader's request (stages ${stageSum.toFixed(3)}) | ${requestMs.toFixed(3)} | ${((100 * requestMs) / clientMs).toFixed(0)}% |`,
  );
  const outside = clientMs - requestMs;
  console.log(
    `| client and loopback | ${outside.toFixed(3)} | ${((100 * outside) / clientMs).toFixed(0)}% |`,
  );
  const flushes = (synced: string) => {
    const a = sums(after, 'raftkit_fsync_duration_seconds', 'synced').get(synced) ?? {
      sum: 0,
      count: 0,
    };
    const b = sums(before, 'raftkit_fsync_duration_seconds', 'synced').get(synced) ?? {
      sum: 0,
      count: 0,
    };
    const count = a.count - b.count;
    return { count, meanMs: ((a.sum - b.sum) * 1000) / Math.max(1, count) };
  };
  const synced = flushes('true');
  const unsynced = flushes('false');
  console.log(
    `\nthe leader's log writes: ${synced.count} with fdatasync (mean ${synced.meanMs.toFixed(3)} ms), ${unsynced.count} without (mean ${unsynced.meanMs.toFixed(3)} ms), for ${load.ops} puts`,
  );
  writeFileSync(
    join('bench/results', `trace-c${CONCURRENCY}.json`),
    `${JSON.stringify({ date: new Date().toISOString(), concurrency: CONCURRENCY, seconds: SECONDS, ops: load.ops, clientMeanMs: clientMs, clientP50Ms: load.p50Ms, clientP99Ms: load.p99Ms, requestMs, stages }, null, 2)}\n`,
  );
} finally {
  await Promise.all(children.map(stopped));
  rmSync(dir, { recursive: true, force: true });
}
