/**
 * The clusters the side-by-side benchmarks start: a three-member etcd from Debian's
 * etcd-server and `raftkit cluster`, each on free loopback ports with its data under `dir`,
 * and the one-call clients the load generator drives them with (every call to the leader).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { EtcdGrpc } from './etcd-grpc.js';
import { childrenOf } from './processes.js';

export const VALUE = 'v'.repeat(256);
const KEYS_PER_WORKER = 100;

/** A system under test: how to put and get at its leader, and the pids of its members. */
export interface System {
  readonly name: string;
  put(worker: number, n: number): Promise<unknown>;
  get(worker: number, n: number): Promise<unknown>;
  pids(): number[];
}

export function ensureEtcd(): void {
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

export function stopped(child: ChildProcess): Promise<void> {
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

export async function startEtcd(dir: string, children: ChildProcess[]): Promise<System> {
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
export function httpCall(
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

export async function startRaftkit(
  dir: string,
  children: ChildProcess[],
  extraArgs: readonly string[] = [],
  bin = resolve('bin/raftkit.js'),
  name = 'raftkit',
): Promise<System & { readonly leader: URL }> {
  const base = await consecutivePorts(3);
  const httpBase = await consecutivePorts(3);
  const child = spawn(
    process.execPath,
    [
      bin,
      'cluster',
      '--base-port',
      String(base),
      '--http-base-port',
      String(httpBase),
      '--data',
      join(dir, 'raftkit'),
      '--log-level',
      'warn',
      ...extraArgs,
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
    name,
    leader,
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
