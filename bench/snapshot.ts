/**
 * The snapshot benchmark, on this machine's disk (fsync on), in one run:
 *
 * 1. restart: a one-member key-value node takes N puts (100,000 keys, 100-byte values), is
 *    stopped, and started again as a `raftkit node` process, timed from the process's start
 *    until it leads and answers /v1/status having applied everything it had; with snapshots
 *    (the defaults: every 10,000 entries, 5,000 kept) and without. The disk its data takes is
 *    sampled during the load;
 * 2. the cost of one snapshot of 1,000,000 keys on the node that takes it, while writes go on
 *    at concurrency 16: how long it takes, the event loop's delay (monitorEventLoopDelay) and
 *    the writes' latency while it runs, against the same figures just before it;
 * 3. install: a follower started empty next to a leader whose log is compacted behind a
 *    snapshot of 1,000,000 keys receives it (streamed in 1 MiB pieces over TCP on loopback,
 *    all three nodes in this process) and restores it: bytes per second, end to end.
 *
 * 4. disk under a sustained load: the same node with snapshots, writing at concurrency 64 for
 *    some minutes (3; --minutes), its data directory's size sampled every 5 seconds, against
 *    the bytes of entries it logged.
 *
 * Prints a table per part and writes bench/results/snapshot.json.
 *
 *   npm run bench:snapshot [-- --quick] [-- --dir PATH] [-- --only restart,cost,install,disk]
 *   [-- --minutes M]
 *   (--quick: 10 times smaller; --only: those parts, the file then named after them)
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { encodeKvCommand, type KvNode, type KvNodeOptions, startKvNode } from '../src/kv/index.js';
import type { NodeLogger } from '../src/node/index.js';
import { freePorts } from '../test/support/ports.js';
import { flag } from './args.js';

const QUICK = process.argv.includes('--quick');
const ONLY = flag('--only')?.split(',') ?? ['restart', 'cost', 'install', 'disk'];
const DISK_MINUTES = Number(flag('--minutes') ?? (QUICK ? 0.5 : 3));
const scale = (n: number): number => (QUICK ? n / 10 : n);
const RESTART_WRITES = [100_000, 1_000_000, 3_000_000].map(scale);
const RESTART_KEYS = scale(100_000);
const BIG_KEYS = scale(1_000_000);
const BASELINE_WRITES = scale(20_000);
const VALUE = 'v'.repeat(100);
/** Every wait and load loop ends by this, whatever happens. */
const DEADLINE = Date.now() + 60 * 60_000;
const timing = { heartbeatMs: 30, electionMs: 150 } as const;
const never = { snapshotEntries: Number.MAX_SAFE_INTEGER, snapshotBytes: Number.MAX_SAFE_INTEGER };

const bin = resolve('bin/raftkit.js');
if (!existsSync(resolve('dist/cli/main.js'))) throw new Error('run `npm run build` first');
const parent = resolve(flag('--dir') ?? 'bench/results');
mkdirSync(parent, { recursive: true });
const base = mkdtempSync(join(parent, 'snapshot-bench-'));

const quiet: NodeLogger = { info() {}, warn() {}, error() {} };

/** A logger that hands each "snapshot at N written" line's fields to `seen`. */
function snapshotLogger(seen: (fields: { index: number; bytes: number; ms: number }) => void) {
  return {
    ...quiet,
    info(fields: object, message: string) {
      if (/^snapshot at \d+ written$/.test(message)) {
        seen(fields as { index: number; bytes: number; ms: number });
      }
    },
  };
}

function diskBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, name.name);
    if (name.isDirectory()) total += diskBytes(path);
    else if (name.isFile()) total += statSync(path).size;
  }
  return total;
}

async function until(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const end = Math.min(Date.now() + timeoutMs, DEADLINE);
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A one-member cluster at `address`; resolves once the node leads. */
async function startOne(
  dir: string,
  address: string,
  extra: Partial<KvNodeOptions>,
): Promise<KvNode> {
  const node = await startKvNode({ ...timing, address, peers: [address], dataDir: dir, ...extra });
  await until('a leader', () => node.node.isLeader, 10_000);
  return node;
}

const freeAddress = async (): Promise<string> => `127.0.0.1:${(await freePorts(1))[0]}`;

interface LoadResult {
  readonly writes: number;
  readonly seconds: number;
  /** Per write: when it started (performance.now()) and how long it took, in ms. */
  readonly started: Float64Array;
  readonly took: Float64Array;
}

/**
 * `count` puts at `concurrency`, key `keyOf(i)`; stops early once `stop()` says so. Resolves
 * with each write's start and latency. `onIndex` sees each write's log index as it returns.
 */
async function load(
  node: KvNode,
  count: number,
  concurrency: number,
  keyOf: (i: number) => string,
  options: { stop?: () => boolean; onIndex?: (index: number) => void } = {},
): Promise<LoadResult> {
  const started = new Float64Array(count);
  const took = new Float64Array(count);
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < DEADLINE && options.stop?.() !== true) {
      const i = next++;
      const command = encodeKvCommand({ op: 'put', key: keyOf(i), value: VALUE });
      const start = performance.now();
      const result = (await node.node.propose(command, { timeoutMs: 30_000 })) as {
        index: number;
      };
      started[done] = start;
      took[done] = performance.now() - start;
      done++;
      options.onIndex?.(result.index);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    writes: done,
    seconds: (performance.now() - t0) / 1000,
    started: started.subarray(0, done),
    took: took.subarray(0, done),
  };
}

function percentile(values: Float64Array | number[], p: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

// -------------------------------------------------------------------------------------------
// 1. Restart time and disk, with and without snapshots

async function restartRow(writes: number, snapshots: boolean) {
  const dir = join(base, `restart-${writes}-${snapshots ? 'snap' : 'none'}`);
  const address = await freeAddress();
  const policy = { logger: quiet, ...(snapshots ? {} : never) };
  const node = await startOne(dir, address, policy);
  let maxDisk = 0;
  const sampler = setInterval(() => {
    maxDisk = Math.max(maxDisk, diskBytes(dir));
  }, 250);
  let loaded: LoadResult;
  try {
    loaded = await load(node, writes, 256, (i) => `key-${i % RESTART_KEYS}`);
  } finally {
    clearInterval(sampler);
  }
  const before = node.node.status();
  await node.stop();
  const diskAtStop = diskBytes(dir);
  maxDisk = Math.max(maxDisk, diskAtStop);
  // Restarted as a user would: a `raftkit node` process, timed from its start until it leads
  // and answers /v1/status with everything it had applied.
  const http = await freeAddress();
  const max = String(Number.MAX_SAFE_INTEGER);
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [
      bin,
      'node',
      ...['--listen', address, '--peers', address, '--data', dir, '--http', http],
      ...['--heartbeat-ms', String(timing.heartbeatMs), '--election-ms', String(timing.electionMs)],
      ...['--log-level', 'warn', '--log-format', 'json'],
      ...(snapshots ? [] : ['--snapshot-entries', max, '--snapshot-bytes', max]),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise((r) => child.once('exit', r));
  let after: Status | null = null;
  try {
    await untilAsync('the restarted process to serve', 600_000, async () => {
      after = await statusOf(http);
      return after?.role === 'leader' && after.appliedIndex >= before.commitIndex;
    });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  const restartMs = performance.now() - t0;
  const served = after as Status | null;
  rmSync(dir, { recursive: true, force: true });
  return {
    writes,
    snapshots,
    writesPerSecond: Math.round(loaded.writes / loaded.seconds),
    maxDiskMB: mb(maxDisk),
    diskAtStopMB: mb(diskAtStop),
    restartMs: Math.round(restartMs),
    snapshotIndex: served?.snapshotIndex ?? 0,
    replayedEntries: before.commitIndex - (served?.snapshotIndex ?? 0),
  };
}

interface Status {
  readonly role: string;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
}

async function statusOf(http: string): Promise<Status | null> {
  try {
    const r = await fetch(`http://${http}/v1/status`, { signal: AbortSignal.timeout(1000) });
    return r.ok ? ((await r.json()) as Status) : null;
  } catch {
    return null; // not listening yet
  }
}

async function untilAsync(what: string, timeoutMs: number, done: () => Promise<boolean>) {
  const end = Math.min(Date.now() + timeoutMs, DEADLINE);
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// -------------------------------------------------------------------------------------------
// 2. One snapshot of a million keys, under load

async function snapshotCost() {
  const dir = join(base, 'snapshot-cost');
  // Applied entries counted from the start (a no-op and the cluster identity come first): the
  // snapshot starts as the entry at this index applies, after the load and the baseline.
  const at = BIG_KEYS + BASELINE_WRITES + 1_000;
  let written: { index: number; bytes: number; ms: number } | null = null;
  const node = await startOne(dir, await freeAddress(), {
    snapshotEntries: at,
    snapshotBytes: Number.MAX_SAFE_INTEGER,
    logger: snapshotLogger((f) => {
      written ??= f;
    }),
  });
  try {
    await load(node, BIG_KEYS, 256, (i) => `key-${i}`);
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const baseline = await load(node, BASELINE_WRITES, 16, (i) => `key-${i * 7}`);
    const baseDelay = { max: delay.max / 1e6, p99: delay.percentile(99) / 1e6 };
    let startedAt: number | null = null;
    const during = await load(node, 10_000_000, 16, (i) => `key-${(i * 13) % BIG_KEYS}`, {
      onIndex: (index) => {
        if (startedAt === null && index >= at) {
          startedAt = performance.now();
          delay.reset();
        }
      },
      stop: () => written !== null,
    });
    delay.disable();
    if (written === null || startedAt === null) throw new Error('no snapshot was taken');
    const snap = written as { index: number; bytes: number; ms: number };
    const start = startedAt as number;
    const inWindow = during.took.filter((_, i) => (during.started[i] as number) >= start);
    const row = {
      keys: BIG_KEYS,
      snapshotIndex: snap.index,
      snapshotMB: mb(snap.bytes),
      snapshotMs: snap.ms,
      eventLoopDelayMs: {
        baselineMax: round(baseDelay.max),
        baselineP99: round(baseDelay.p99),
        duringMax: round(delay.max / 1e6),
        duringP99: round(delay.percentile(99) / 1e6),
      },
      writeLatencyMs: {
        baselineP50: round(percentile(baseline.took, 50), 2),
        baselineP99: round(percentile(baseline.took, 99), 2),
        duringP50: round(percentile(inWindow, 50), 2),
        duringP99: round(percentile(inWindow, 99), 2),
        writesDuring: inWindow.length,
      },
      p99Ratio: round(percentile(inWindow, 99) / percentile(baseline.took, 99), 2),
    };
    return row;
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// -------------------------------------------------------------------------------------------
// 3. Install: an empty follower receives the leader's snapshot

async function installThroughput() {
  const ports = await freePorts(3);
  const raft = ports.map((p) => `127.0.0.1:${p}`);
  const dirs = raft.map((_, i) => join(base, `install-${i}`));
  // The snapshot comes near the end of the load: it holds (nearly) every key.
  const policy = { snapshotEntries: BIG_KEYS - 1_000, snapshotBytes: Number.MAX_SAFE_INTEGER };
  const start = (i: number) =>
    startKvNode({
      ...timing,
      address: raft[i] as string,
      peers: raft,
      dataDir: dirs[i] as string,
      logger: quiet,
      ...policy,
    });
  const nodes: (KvNode | null)[] = [await start(0), await start(1), null];
  try {
    await until('a leader', () => nodes.some((n) => n?.node.isLeader === true), 10_000);
    const leader = nodes.find((n) => n?.node.isLeader === true) as KvNode;
    await load(leader, BIG_KEYS, 256, (i) => `key-${i}`);
    await until(
      'the snapshots',
      () => nodes.every((n) => n === null || n.node.status().firstIndex > 1),
      600_000,
    );
    const ls = leader.node.status();
    const termBefore = leader.node.term;
    const snapshotBytes = diskBytes(
      join(dirs[raft.indexOf(leader.node.id)] as string, 'state_machine'),
    );
    const t0 = performance.now();
    const follower = await start(2);
    nodes[2] = follower;
    await until(
      'the install',
      () =>
        follower.node.status().snapshotIndex >= ls.snapshotIndex &&
        follower.node.status().appliedIndex >= ls.commitIndex,
      600_000,
    );
    const seconds = (performance.now() - t0) / 1000;
    const pieces = leader.node.transportStats().sentByType['snapshot-chunk'] ?? 0;
    if (follower.store.size !== leader.store.size) {
      throw new Error(
        `the follower has ${follower.store.size} keys, the leader ${leader.store.size}`,
      );
    }
    return {
      // The pieces travel beside heartbeats: no election while they stream.
      leaderKept: leader.node.isLeader && leader.node.term === termBefore,
      keys: follower.store.size,
      snapshotIndex: ls.snapshotIndex,
      snapshotMB: mb(snapshotBytes),
      seconds: round(seconds, 2),
      megabytesPerSecond: round(mb(snapshotBytes) / seconds),
      pieces,
    };
  } finally {
    await Promise.all(nodes.map((n) => n?.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

// -------------------------------------------------------------------------------------------
// 4. Disk under a sustained load

async function diskOverTime() {
  const dir = join(base, 'disk');
  const node = await startOne(dir, await freeAddress(), { logger: quiet });
  const samples: { seconds: number; diskMB: number; loggedMB: number }[] = [];
  const t0 = performance.now();
  const endAt = Date.now() + DISK_MINUTES * 60_000;
  let bytesLogged = 0;
  const command = encodeKvCommand({ op: 'put', key: 'key-0000000', value: VALUE });
  const sampler = setInterval(() => {
    samples.push({
      seconds: Math.round((performance.now() - t0) / 1000),
      diskMB: mb(diskBytes(dir)),
      loggedMB: mb(bytesLogged),
    });
  }, 5_000);
  try {
    const loaded = await load(node, 100_000_000, 64, (i) => `key-${i % RESTART_KEYS}`, {
      stop: () => Date.now() > endAt,
      onIndex: () => {
        bytesLogged += command.byteLength + 32; // the record's framing, roughly
      },
    });
    const late = samples.filter((x) => x.seconds >= 60);
    const last = late.length > 0 ? late : samples;
    return {
      minutes: DISK_MINUTES,
      writes: loaded.writes,
      writesPerSecond: Math.round(loaded.writes / loaded.seconds),
      loggedMB: mb(bytesLogged),
      maxDiskMB: Math.max(...samples.map((x) => x.diskMB)),
      diskAfterFirstMinuteMB: {
        min: Math.min(...last.map((x) => x.diskMB)),
        max: Math.max(...last.map((x) => x.diskMB)),
      },
      samples,
    };
  } finally {
    clearInterval(sampler);
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  const restart = [];
  if (ONLY.includes('restart')) {
    console.log(
      'restart: writes  snapshots  writes/s  max disk MB  disk at stop MB  restart ms  replayed',
    );
    for (const writes of RESTART_WRITES) {
      for (const snapshots of [true, false]) {
        const r = await restartRow(writes, snapshots);
        restart.push(r);
        console.log(
          `${String(writes).padStart(15)}  ${String(snapshots).padStart(9)}  ${String(r.writesPerSecond).padStart(8)}  ${String(r.maxDiskMB).padStart(11)}  ${String(r.diskAtStopMB).padStart(15)}  ${String(r.restartMs).padStart(10)}  ${r.replayedEntries}`,
        );
      }
    }
  }
  const cost = ONLY.includes('cost') ? await snapshotCost() : null;
  if (cost !== null) console.log('snapshot of', cost.keys, 'keys:', JSON.stringify(cost));
  const install = ONLY.includes('install') ? await installThroughput() : null;
  if (install !== null) console.log('install:', JSON.stringify(install));
  const disk = ONLY.includes('disk') ? await diskOverTime() : null;
  if (disk !== null) {
    const { samples, ...summary } = disk;
    console.log('disk under load:', JSON.stringify(summary));
    console.log(samples.map((x) => `${x.seconds}s ${x.diskMB} MB`).join(', '));
  }
  const name = [
    'snapshot',
    ...(QUICK ? ['quick'] : []),
    ...(flag('--only') === undefined ? [] : ONLY),
  ];
  writeFileSync(
    join('bench/results', `${name.join('-')}.json`),
    `${JSON.stringify({ date: new Date().toISOString(), quick: QUICK, restart, snapshot: cost, install, disk }, null, 2)}\n`,
  );
} finally {
  rmSync(base, { recursive: true, force: true });
}
