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
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
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
import http from 'node:http';
import net from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { EtcdGrpc } from './etcd-grpc.js';
import { closedLoop, type LoadResult, median } from './load.js';
import { childrenOf, cpuSeconds, PeakMemory } from './processes.js';

const flag = (name: string): string | undefined => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const SECONDS = Number(flag('--seconds') ?? 5);
const ROUNDS = Number(flag('--rounds') ?? 3);
const parent = resolve(flag('--dir') ?? 'bench/results');
const VALUE = 'v'.repeat(256);
const KEYS_PER_WORKER = 100;

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

/** A system under test: how to put and get at its leader, and the pids of its members. */
interface System {
  readonly name: 'etcd' | 'raftkit';
  put(worker: number, n: number): Promise<unknown>;
  get(worker: number, n: number): Promise<unknown>;
  pids(): number[];
}

// --- set-up ---------------------------------------------------------------------------

function ensureEtcd(): void {
  if (spawnSync('etcd', ['--version']).status === 0) return;
  console.log('etcd not found: installing Debian etcd-server with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'etcd-server'], { stdio: 'inherit', env });
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = net.createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });
}

/** `count` consecutive free loopback ports (raftkit cluster numbers its nodes' ports). */
async function consecutivePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const all = await Promise.all(Array.from({ length: count }, (_, i) => portFree(base + i)));
    if (all.every(Boolean)) return base;
  }
  throw new Error('no run of free ports found');
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const got = await probe().catch(() => undefined);
    if (got !== undefined) return got;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await pause(100);
  }
}

function stopped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

async function startEtcd(dir: string, children: ChildProcess[]): Promise<System> {
  const base = await consecutivePorts(6);
  const peer = (i: number) => `http://127.0.0.1:${base + i}`;
  const client = (i: number) => `http://127.0.0.1:${base + 3 + i}`;
  const cluster = [0, 1, 2].map((i) => `e${i}=${peer(i)}`).join(',');
  const pids: number[] = [];
  for (const i of [0, 1, 2]) {
    const child = spawn(
      'etcd',
      [
        `--name=e${i}`,
        `--data-dir=${join(dir, `etcd-${i}`)}`,
        `--listen-peer-urls=${peer(i)}`,
        `--initial-advertise-peer-urls=${peer(i)}`,
        `--listen-client-urls=${client(i)}`,
        `--advertise-client-urls=${client(i)}`,
        `--initial-cluster=${cluster}`,
        '--initial-cluster-state=new',
        '--initial-cluster-token=raftkit-bench',
        '--logger=zap',
        '--log-level=error',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    children.push(child);
    pids.push(child.pid as number);
  }
  // A fresh connection each try: a session that found the port closed stays failed.
  const leader = await until('an etcd leader', 30_000, async () => {
    for (const i of [0, 1, 2]) {
      const c = new EtcdGrpc(client(i));
      if (await c.isLeader().catch(() => false)) return c;
      c.close();
    }
    return undefined;
  });
  const value = Buffer.from(VALUE);
  await leader.put('warm-up', value);
  return {
    name: 'etcd',
    put: (w, n) => leader.put(`key-${w}-${n % KEYS_PER_WORKER}`, value),
    get: (w, n) => leader.get(`key-${w}-${n % KEYS_PER_WORKER}`),
    pids: () => pids,
  };
}

/** One HTTP request on a kept-alive connection; rejects unless the status is `expect`. */
function httpCall(
  agent: http.Agent,
  origin: URL,
  method: string,
  path: string,
  body: string | undefined,
  expect: readonly number[],
): Promise<void> {
  return new Promise((done, fail) => {
    const req = http.request(
      {
        host: origin.hostname,
        port: origin.port,
        method,
        path,
        agent,
        headers:
          body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          expect.includes(res.statusCode ?? 0)
            ? done()
            : fail(new Error(`raftkit ${method} ${path}: ${res.statusCode}`)),
        );
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

async function startRaftkit(dir: string, children: ChildProcess[]): Promise<System> {
  const base = await consecutivePorts(3);
  const httpBase = await consecutivePorts(3);
  const child = spawn(
    process.execPath,
    [
      resolve('bin/raftkit.js'),
      'cluster',
      '--base-port',
      String(base),
      '--http-base-port',
      String(httpBase),
      '--data',
      join(dir, 'raftkit'),
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error('raftkit cluster not ready in 30 s')), 30_000);
    lines.on('line', (line) => {
      if (/\bready\b/.test(line)) {
        clearTimeout(timer);
        ready();
      }
    });
    child.once('exit', (code) => fail(new Error(`raftkit cluster exited (${code})`)));
  });
  lines.on('line', () => {});
  const origins = [0, 1, 2].map((i) => new URL(`http://127.0.0.1:${httpBase + i}`));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
  const leader = await until('a raftkit leader', 30_000, async () => {
    for (const origin of origins) {
      const status = (await (await fetch(new URL('/v1/status', origin))).json()) as {
        role?: string;
      };
      if (status.role === 'leader') return origin;
    }
    return undefined;
  });
  const putBody = JSON.stringify({ value: VALUE });
  await httpCall(agent, leader, 'PUT', '/v1/kv/warm-up', putBody, [200]);
  return {
    name: 'raftkit',
    put: (w, n) =>
      httpCall(agent, leader, 'PUT', `/v1/kv/key-${w}-${n % KEYS_PER_WORKER}`, putBody, [200]),
    // A key not yet written answers 404 after the same linearizable read.
    get: (w, n) =>
      httpCall(
        agent,
        leader,
        'GET',
        `/v1/kv/key-${w}-${n % KEYS_PER_WORKER}`,
        undefined,
        [200, 404],
      ),
    pids: () => childrenOf(child.pid as number),
  };
}

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
  const systems = [etcd, raftkit];
  const memory = new Map<string, number[]>();
  const results: Record<string, Record<string, Round[]>> = { etcd: {}, raftkit: {} };
  for (const level of LEVELS) {
    const key = `${level.op}@${level.concurrency}`;
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
    return {
      op: level.op,
      concurrency: level.concurrency,
      etcd: e,
      raftkit: k,
      ratio: k.perSecond / e.perSecond,
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
