/**
 * raftkit beside etcd on this machine: a three-member etcd (Debian's etcd-server, fsync on,
 * its gRPC API) and `raftkit cluster` (three `raftkit node` processes, fsync on, the HTTP
 * API), data of both on the same disk, driven in turn by the same closed-loop load generator
 * (`load.ts`): N workers, one request each awaited before the next, keep-alive connections,
 * no pipelining, every request to the leader, linearizable reads on both. Rounds alternate
 * etcd / raftkit; each figure is the median of the rounds. Also measured in the same run: the
 * physical bound of one replicated write (append + fdatasync, loopback round trip), each
 * member's peak resident memory under the concurrency-256 writes, and CPU seconds per write
 * of all member processes together.
 *
 *   npm run bench:vs-etcd [-- --seconds 5] [-- --rounds 3] [-- --dir PATH]
 *
 * Prints the table and writes bench/results/vs-etcd.json. Installs etcd-server with apt-get
 * when `etcd` is not on the PATH (as root).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  fdatasyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import net from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { flag } from './args.js';
import { ensureEtcd, type System, startEtcd, startRaftkit, stopped } from './clusters.js';
import { closedLoop, type LoadResult, median } from './load.js';
import { cpuSeconds, PeakMemory } from './processes.js';

const SECONDS = Number(flag('--seconds') ?? 5);
const ROUNDS = Number(flag('--rounds') ?? 3);
const parent = resolve(flag('--dir') ?? 'bench/results');

interface Level {
  readonly op: 'put' | 'get';
  readonly concurrency: number;
}
const LEVELS: readonly Level[] = [
  { op: 'put', concurrency: 1 },
  { op: 'put', concurrency: 16 },
  { op: 'put', concurrency: 64 },
  { op: 'put', concurrency: 256 },
  { op: 'get', concurrency: 1 },
  { op: 'get', concurrency: 64 },
];

// --- the physical bound ------------------------------------------------------------------

/** Median milliseconds of one 256-byte append + fdatasync in `dir` (the disk both use). */
function fsyncLatency(dir: string, count = 2000): number {
  const path = join(dir, 'fsync-probe');
  const fd = openSync(path, 'a');
  const record = Buffer.alloc(256, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      writeSync(fd, record);
      fdatasyncSync(fd);
      times.push(performance.now() - t);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  return median(times);
}

/** Median milliseconds of a 64-byte TCP ping-pong with an echo server in another process. */
async function loopbackRoundTrip(count = 2000): Promise<number> {
  const echo = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer(c=>{c.setNoDelay(true);c.pipe(c)}).listen(0,'127.0.0.1',()=>console.log(s.address().port))",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const port = await new Promise<number>((done) =>
      (echo.stdout as NodeJS.ReadableStream).once('data', (d) => done(Number(String(d).trim()))),
    );
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise((r) => socket.once('connect', r));
    const ping = Buffer.alloc(64, 2);
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await new Promise<void>((done) => {
        let got = 0;
        const onData = (d: Buffer) => {
          got += d.length;
          if (got >= ping.length) {
            socket.off('data', onData);
            done();
          }
        };
        socket.on('data', onData);
        socket.write(ping);
      });
      times.push(performance.now() - t);
    }
    socket.destroy();
    return median(times);
  } finally {
    echo.kill('SIGKILL');
  }
}

// --- the run -----------------------------------------------------------------------------

interface Round extends LoadResult {
  readonly cpuSecondsPerOp: number;
}

async function round(system: System, level: Level): Promise<Round> {
  const pids = system.pids();
  const cpuBefore = pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const call = level.op === 'put' ? system.put : system.get;
  const r = await closedLoop(level.concurrency, SECONDS, call);
  const cpuAfter = pids.reduce((s, p) => s + cpuSeconds(p), 0);
  return { ...r, cpuSecondsPerOp: r.ops > 0 ? (cpuAfter - cpuBefore) / r.ops : Number.NaN };
}

function summarise(rounds: readonly Round[]) {
  return {
    perSecond: Math.round(median(rounds.map((r) => r.perSecond))),
    perSecondRange: [
      Math.round(Math.min(...rounds.map((r) => r.perSecond))),
      Math.round(Math.max(...rounds.map((r) => r.perSecond))),
    ],
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    cpuMsPerOp: median(rounds.map((r) => r.cpuSecondsPerOp)) * 1000,
    errors: rounds.reduce((s, r) => s + r.errors, 0),
    firstError: rounds.find((r) => r.firstError !== undefined)?.firstError,
  };
}

const children: ChildProcess[] = [];
mkdirSync(parent, { recursive: true });
const dir = mkdtempSync(join(parent, 'vs-etcd-'));
const stopAll = async () => {
  await Promise.all(children.map(stopped));
  rmSync(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

try {
  ensureEtcd();
  const etcdVersion = /etcd Version: (\S+)/.exec(
    execFileSync('etcd', ['--version']).toString(),
  )?.[1];
  const fsyncMs = fsyncLatency(dir);
  const rttMs = await loopbackRoundTrip();
  // Client hop + the follower's round trip, with the leader's fsync overlapping the follower's.
  const boundMs = rttMs + rttMs + fsyncMs;
  console.log(
    `${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; etcd ${etcdVersion}; node ${process.version}`,
  );
  console.log(
    `physical bound: fdatasync of 256 B ${fsyncMs.toFixed(3)} ms, loopback round trip ${rttMs.toFixed(3)} ms → one replicated write ≥ ${boundMs.toFixed(3)} ms`,
  );
  const etcd = await startEtcd(dir, children);
  const raftkit = await startRaftkit(dir, children);
  // Reads again with `--read-mode lease` (writes are the same in both modes).
  const lease = await startRaftkit(
    join(dir, 'lease'),
    children,
    ['--read-mode', 'lease'],
    undefined,
    'lease',
  );
  const memory = new Map<string, number[]>();
  const results: Record<string, Record<string, Round[]>> = { etcd: {}, raftkit: {}, lease: {} };
  for (const level of LEVELS) {
    const key = `${level.op}@${level.concurrency}`;
    const systems = level.op === 'put' ? [etcd, raftkit] : [etcd, raftkit, lease];
    for (let i = 0; i < ROUNDS; i++) {
      for (const system of systems) {
        const sampler =
          level.op === 'put' && level.concurrency === 256
            ? new PeakMemory(system.pids())
            : undefined;
        const r = await round(system, level);
        if (sampler !== undefined) {
          const peaks = sampler.stop();
          const known = memory.get(system.name) ?? peaks.map(() => 0);
          memory.set(
            system.name,
            peaks.map((p, j) => Math.max(p, known[j] ?? 0)),
          );
        }
        const bySystem = results[system.name] as Record<string, Round[]>;
        bySystem[key] = [...(bySystem[key] ?? []), r];
        process.stderr.write(
          `  ${system.name.padEnd(7)} ${key.padEnd(7)} round ${i + 1}: ${Math.round(r.perSecond)}/s p50 ${r.p50Ms.toFixed(2)} p99 ${r.p99Ms.toFixed(2)}${r.errors > 0 ? ` errors ${r.errors} (${r.firstError})` : ''}\n`,
        );
      }
    }
  }
  const rows = LEVELS.map((level) => {
    const key = `${level.op}@${level.concurrency}`;
    const e = summarise(results.etcd?.[key] ?? []);
    const k = summarise(results.raftkit?.[key] ?? []);
    const l = level.op === 'get' ? summarise(results.lease?.[key] ?? []) : null;
    return {
      op: level.op,
      concurrency: level.concurrency,
      etcd: e,
      raftkit: k,
      ratio: k.perSecond / e.perSecond,
      ...(l === null ? {} : { lease: l, leaseRatio: l.perSecond / e.perSecond }),
    };
  });
  const fmt = (n: number) => n.toLocaleString('en-US');
  console.log(
    '\n| operation | concurrency | etcd ops/s | etcd p50 / p99 ms | raftkit ops/s | raftkit p50 / p99 ms | raftkit ÷ etcd | CPU ms per op etcd / raftkit |',
  );
  console.log('| --- | ---: | ---: | --- | ---: | --- | ---: | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.op === 'put' ? 'put' : 'linearizable get'} | ${r.concurrency} | ${fmt(r.etcd.perSecond)} | ${r.etcd.p50Ms.toFixed(2)} / ${r.etcd.p99Ms.toFixed(1)} | ${fmt(r.raftkit.perSecond)} | ${r.raftkit.p50Ms.toFixed(2)} / ${r.raftkit.p99Ms.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.etcd.cpuMsPerOp.toFixed(3)} / ${r.raftkit.cpuMsPerOp.toFixed(3)} |`,
    );
    if (r.lease !== undefined) {
      console.log(
        `| linearizable get, raftkit --read-mode lease | ${r.concurrency} | ${fmt(r.etcd.perSecond)} | ${r.etcd.p50Ms.toFixed(2)} / ${r.etcd.p99Ms.toFixed(1)} | ${fmt(r.lease.perSecond)} | ${r.lease.p50Ms.toFixed(2)} / ${r.lease.p99Ms.toFixed(1)} | ${(r.leaseRatio as number).toFixed(2)} | ${r.etcd.cpuMsPerOp.toFixed(3)} / ${r.lease.cpuMsPerOp.toFixed(3)} |`,
      );
    }
  }
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const etcdMem = memory.get('etcd') ?? [];
  const raftkitMem = memory.get('raftkit') ?? [];
  console.log(
    `\npeak resident memory under put@256: etcd ${etcdMem.map(mib).join(', ')}; raftkit ${raftkitMem.map(mib).join(', ')}`,
  );
  const put1 = rows[0];
  if (put1 !== undefined) {
    console.log(
      `put p50 at concurrency 1: raftkit ${put1.raftkit.p50Ms.toFixed(3)} ms = ${(put1.raftkit.p50Ms / put1.etcd.p50Ms).toFixed(2)}× etcd's, ${(put1.raftkit.p50Ms / boundMs).toFixed(2)}× the physical bound`,
    );
  }
  const errors = rows.filter((r) => r.etcd.errors + r.raftkit.errors > 0);
  for (const r of errors) {
    console.log(
      `errors at ${r.op}@${r.concurrency}: etcd ${r.etcd.errors} (${r.etcd.firstError ?? '-'}), raftkit ${r.raftkit.errors} (${r.raftkit.firstError ?? '-'})`,
    );
  }
  writeFileSync(
    join('bench/results', 'vs-etcd.json'),
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        etcd: etcdVersion,
        cores: cpus().length,
        secondsPerRound: SECONDS,
        rounds: ROUNDS,
        valueBytes: 256,
        bound: { fsyncMs, rttMs, writeMs: boundMs },
        peakResidentBytes: { etcd: etcdMem, raftkit: raftkitMem },
        rows,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await stopAll();
}
