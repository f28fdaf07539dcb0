/**
 * The key-value benchmark: three `raftkit node` processes on loopback (TCP, fsync on, data
 * under bench/results or --dir), driven through the HTTP API by one RaftkitClient in this
 * process, as a user's program would be: puts of 256-byte values at concurrency 1 to 256,
 * then linearizable gets at 64. Each operation is timed from the call to its answer, so the
 * client's HTTP round trip is included, as it is in etcd's own benchmark numbers. All five
 * processes share this machine's cores. Prints a table and writes bench/results/kv.json.
 *
 *   npm run bench:kv [-- --seconds 3] [-- --dir PATH]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { RaftkitClient } from '../src/kv/index.js';
import { NodeProcess, statusOf } from '../src/verify/index.js';
import { freePorts } from '../test/support/ports.js';
import { flag } from './args.js';

const SECONDS = Number(flag('--seconds') ?? 3);
const parent = resolve(flag('--dir') ?? 'bench/results');
mkdirSync(parent, { recursive: true });
const dir = mkdtempSync(join(parent, 'kv-bench-'));
const ports = await freePorts(6);
const raft = ports.slice(0, 3).map((p) => `127.0.0.1:${p}`);
const nodes = [0, 1, 2].map(
  (i) =>
    new NodeProcess({
      index: i,
      raft: raft[i] as string,
      http: `127.0.0.1:${ports[3 + i]}`,
      peers: raft,
      dir,
      extra: ['--log-level', 'warn'],
    }),
);
const value = 'v'.repeat(256);

interface Row {
  op: 'put' | 'get';
  concurrency: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** `concurrency` loops calling `fn` for SECONDS; the latency of each call that succeeded. */
async function load(concurrency: number, fn: (worker: number, n: number) => Promise<unknown>) {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let n = 0; performance.now() < end && n < 10_000_000; n++) {
        const t = performance.now();
        try {
          await fn(worker, n);
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    perSecond: Math.round(latencies.length / seconds),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors,
  };
}

try {
  for (const n of nodes) n.start();
  const deadline = performance.now() + 20_000;
  for (;;) {
    const statuses = await Promise.all(nodes.map((n) => statusOf(n.url)));
    if (statuses.some((s) => s?.role === 'leader')) break;
    if (performance.now() > deadline) throw new Error('no leader in 20 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const client = new RaftkitClient({ endpoints: nodes.map((n) => n.url), maxSockets: 512 });
  await client.put('warm-up', value);
  const rows: Row[] = [];
  console.log(`${cpus().length} cores; op  concurrency  ops/s   p50 ms   p99 ms  errors`);
  const print = (r: Row) => {
    rows.push(r);
    console.log(
      `${r.op.padStart(11)}  ${String(r.concurrency).padStart(11)}  ${String(r.perSecond).padStart(6)}  ${r.p50Ms.toFixed(2).padStart(7)}  ${r.p99Ms.toFixed(2).padStart(7)}  ${r.errors}`,
    );
  };
  for (const concurrency of [1, 16, 64, 256]) {
    const r = await load(concurrency, (w, n) => client.put(`key-${w}-${n % 100}`, value));
    print({ op: 'put', concurrency, ...r });
  }
  const r = await load(64, (w, n) => client.get(`key-${w}-${n % 100}`));
  print({ op: 'get', concurrency: 64, ...r });
  client.close();
  writeFileSync(
    join('bench/results', 'kv.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: cpus().length, secondsPerLevel: SECONDS, valueBytes: 256, rows }, null, 2)}\n`,
  );
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  await Promise.all(nodes.map((n) => n.close()));
  rmSync(dir, { recursive: true, force: true });
}
