/**
 * The node benchmark: three members in three processes on loopback, over TCP, with fsync on
 * (the real disk, under bench/results or --dir). The leader's process runs the load itself,
 * replicated-map writes of 256-byte values at concurrency 1 to 256; each write is timed from
 * `set()` to its apply on the leader (a majority has fsynced it). There is no client network
 * hop: compare with etcd's numbers knowing that its client's gRPC round trip is included.
 * Prints a table and writes bench/results/node.json.
 *
 *   npm run bench:node [-- --seconds 3] [-- --dir PATH]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePorts } from '../test/support/ports.js';
import { flag } from './args.js';

const SECONDS = Number(flag('--seconds') ?? 3);
const LEVELS = [1, 4, 16, 64, 256];
const parent = resolve(flag('--dir') ?? 'bench/results');
mkdirSync(parent, { recursive: true });
const dir = mkdtempSync(join(parent, 'node-bench-'));
const ports = await freePorts(3);

interface Result {
  leader: boolean;
  writes?: number;
  errors?: number;
  seconds?: number;
  p50?: number;
  p99?: number;
}

const members: ChildProcess[] = [];
const ask = (m: ChildProcess, message: object): Promise<Result> =>
  new Promise((r) => {
    m.once('message', (x) => r(x as Result));
    m.send(message);
  });

try {
  for (let i = 0; i < 3; i++) {
    const m = fork(resolve('bench/node-member.ts'), [String(i), ports.join(','), dir], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    members.push(m);
    await new Promise((r) => m.once('message', r));
  }
  const rows: object[] = [];
  console.log('concurrency  writes/s   p50 ms   p99 ms  errors');
  for (const concurrency of LEVELS) {
    let result: Result | undefined;
    for (let attempt = 0; attempt < 50 && result === undefined; attempt++) {
      for (const m of members) {
        const r = await ask(m, { run: { concurrency, seconds: SECONDS } });
        if (r.leader) {
          result = r;
          break;
        }
      }
      if (result === undefined) await new Promise((r) => setTimeout(r, 200)); // no leader yet
    }
    if (result === undefined) throw new Error('no leader');
    const perSecond = Math.round((result.writes ?? 0) / (result.seconds ?? 1));
    const row = {
      concurrency,
      writesPerSecond: perSecond,
      p50Ms: result.p50,
      p99Ms: result.p99,
      errors: result.errors,
    };
    rows.push(row);
    console.log(
      `${String(concurrency).padStart(11)}  ${String(perSecond).padStart(8)}  ${(result.p50 ?? 0).toFixed(2).padStart(7)}  ${(result.p99 ?? 0).toFixed(2).padStart(7)}  ${result.errors}`,
    );
  }
  writeFileSync(
    join('bench/results', 'node.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, secondsPerLevel: SECONDS, valueBytes: 256, rows }, null, 2)}\n`,
  );
} finally {
  await Promise.all(
    members.map(
      (m) =>
        new Promise<void>((r) => {
          const timer = setTimeout(() => m.kill('SIGKILL'), 5000);
          m.once('exit', () => {
            clearTimeout(timer);
            r();
          });
          m.send({ stop: true });
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
}
