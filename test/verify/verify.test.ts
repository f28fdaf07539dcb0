/**
 * `raftkit verify` as a user runs it (the built bin): a short run with every fault kind, a
 * planted stale-read bug that it must catch, `--endpoints` against a cluster it did not start,
 * the clean-up of its network namespaces after Ctrl-C and after a SIGKILL of verify itself,
 * and a run where namespaces cannot be made.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  NamespaceNetwork,
  NodeProcess,
  namespacesUnavailable,
  statusOf,
} from '../../src/verify/index.js';
import { freePorts } from '../support/ports.js';
import { bin, raftkitWithin } from '../support/raftkit.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const namespaces = (await namespacesUnavailable()) === null;

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

interface Summary {
  passed: boolean;
  linearizable: boolean | string;
  faultCounts: Record<string, number>;
  snapshots: { taken: number; installed: number };
  operations: Record<string, { ok: number; fail: number; unknown: number }>;
  notes: string[];
}

const readSummary = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;

test('a short verify with every fault kind: linearizable, nothing lost, every kind injected', {
  timeout: 180_000,
}, async () => {
  const report = mkdtempSync(join(tmpdir(), 'raftkit-verify-'));
  try {
    const r = await raftkitWithin(170_000, [
      'verify',
      ...['--seconds', '30', '--nemesis', 'all', '--fault-interval', '900'],
      ...['--read-mode', 'lease', '--seed', '11', '--report', report],
    ]);
    const verdict = lastLine(r.stdout);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(verdict, /^linearizable: \d+ operations .* 0 acknowledged writes lost$/);
    const summary = readSummary(report);
    assert.equal(summary.passed, true);
    const kinds = [
      'kill',
      'pause',
      'member',
      'snapshot',
      'clock',
      ...(namespaces ? ['partition'] : []),
    ];
    for (const kind of kinds) {
      assert.ok(
        (summary.faultCounts[kind] ?? 0) >= 1,
        `no ${kind} fault: ${JSON.stringify(summary.faultCounts)}`,
      );
    }
    assert.ok(
      summary.snapshots.taken >= 1 && summary.snapshots.installed >= 1,
      JSON.stringify(summary.snapshots),
    );
    for (const op of ['get', 'put', 'del', 'cas']) {
      assert.ok(
        (summary.operations[op]?.ok ?? 0) >= 20,
        `${op}: ${JSON.stringify(summary.operations[op])}`,
      );
    }
    // The report folder: the history, every node's log, the page with its chart library inlined.
    const history = readFileSync(join(report, 'history.jsonl'), 'utf8').trim().split('\n');
    const total = Object.values(summary.operations).reduce(
      (n, c) => n + c.ok + c.fail + c.unknown,
      0,
    );
    assert.equal(history.length, total);
    assert.ok(existsSync(join(report, 'node1.out')) && existsSync(join(report, 'node3.out')));
    const page = readFileSync(join(report, 'report.html'), 'utf8');
    assert.match(page, /uPlot/);
    assert.doesNotMatch(page, /<script[^>]+src=/, 'nothing loaded from elsewhere');
    // The nodes' data is removed from a passing run.
    assert.ok(!existsSync(join(report, 'node1')));
  } finally {
    rmSync(report, { recursive: true, force: true });
  }
});

/**
 * A copy of the build whose HTTP server answers a linearizable GET from the node's own state,
 * as raftos did: a follower that has not yet applied the latest write answers with the old
 * value.
 */
function plantedStaleReads(): string {
  const copy = mkdtempSync(join(tmpdir(), 'raftkit-planted-'));
  cpSync(join(root, 'dist'), join(copy, 'dist'), { recursive: true });
  cpSync(join(root, 'bin'), join(copy, 'bin'), { recursive: true });
  cpSync(join(root, 'package.json'), join(copy, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
  const file = join(copy, 'dist/kv/http-server.js');
  const text = readFileSync(file, 'utf8');
  const find = 'entry = await this.#node.read(read, { timeoutMs: this.#timeoutMs });';
  assert.equal(text.split(find).length, 2, 'the planted edit finds its text exactly once');
  writeFileSync(file, text.replace(find, 'entry = await this.#node.read(read, { stale: true });'));
  return copy;
}

test('the planted stale-read bug of the key-value server is caught: NOT linearizable, exit 1', {
  timeout: 120_000,
}, async () => {
  const copy = plantedStaleReads();
  const report = mkdtempSync(join(tmpdir(), 'raftkit-verify-planted-'));
  try {
    const r = await raftkitWithin(110_000, [
      'verify',
      ...['--seconds', '12', '--nemesis', 'pause,partition', '--fault-interval', '1000'],
      ...['--seed', '3', '--report', report, '--node-bin', join(copy, 'bin/raftkit.js')],
    ]);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(lastLine(r.stdout), /^NOT linearizable: \d+ operations/);
    assert.match(r.stdout, /checker: NOT linearizable/);
    assert.equal(readSummary(report).linearizable, false);
    // A failing run keeps the nodes' data for inspection.
    assert.ok(existsSync(join(report, 'node1')));
  } finally {
    rmSync(report, { recursive: true, force: true });
    rmSync(copy, { recursive: true, force: true });
  }
});

test('--endpoints: the same clients and checks against a cluster verify did not start', {
  timeout: 90_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-verify-endpoints-'));
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
        extra: [...['--heartbeat-ms', '50', '--election-ms', '300', '--log-level', 'warn']],
      }),
  );
  try {
    for (const n of nodes) n.start();
    const until = performance.now() + 20_000;
    while (performance.now() < until && (await statusOf(nodes[0]?.url as string))?.leader == null) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await raftkitWithin(80_000, [
      'verify',
      ...['--endpoints', nodes.map((n) => n.url).join(','), '--seconds', '5'],
      ...['--report', join(dir, 'report')],
    ]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(lastLine(r.stdout), /^linearizable: /);
    assert.match(r.stdout, /faults: none/);
    assert.match(r.stdout, /durability: the nodes' logs are not on this machine/);
  } finally {
    await Promise.all(nodes.map((n) => n.kill()));
    await Promise.all(nodes.map((n) => n.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Starts `raftkit verify ...args` and resolves once its output matches `ready`. */
function startVerify(args: readonly string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [bin, 'verify', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  const gone = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const seen = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`verify did not print ${ready}: ${out}`)),
      60_000,
    );
    const on = (c: Buffer) => {
      out += c.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
  });
  return { child, gone, seen, output: () => out };
}

test('Ctrl-C stops verify: exit 130, its nodes and namespaces gone', {
  skip: namespaces
    ? false
    : 'network namespaces cannot be made here (root and iproute2 are needed)',
  timeout: 90_000,
}, async () => {
  const report = mkdtempSync(join(tmpdir(), 'raftkit-verify-int-'));
  const run = startVerify(
    ['--seconds', '60', '--nemesis', 'partition', '--report', report],
    /nemesis: /,
  );
  try {
    await run.seen;
    const pid = run.child.pid as number;
    assert.ok(
      (await NamespaceNetwork.leftovers(pid)).length > 0,
      'its namespaces exist while it runs',
    );
    run.child.kill('SIGINT');
    assert.equal(await run.gone, 130, run.output());
    assert.deepEqual(await NamespaceNetwork.leftovers(pid), []);
  } finally {
    run.child.kill('SIGKILL');
    rmSync(report, { recursive: true, force: true });
  }
});

test('after a SIGKILL of verify, the next run removes its namespaces and the nodes left in them', {
  skip: namespaces
    ? false
    : 'network namespaces cannot be made here (root and iproute2 are needed)',
  timeout: 120_000,
}, async () => {
  const report = mkdtempSync(join(tmpdir(), 'raftkit-verify-kill-'));
  const run = startVerify(
    ['--seconds', '60', '--nemesis', 'none', '--report', join(report, 'a')],
    /verify: 3 nodes/,
  );
  try {
    await run.seen;
    const pid = run.child.pid as number;
    run.child.kill('SIGKILL');
    await run.gone;
    const left = await NamespaceNetwork.leftovers(pid);
    assert.ok(
      left.length >= 3 + 3 * 2 + 2,
      `namespaces, veths and bridges left: ${left.join(' ')}`,
    );
    const { execFileSync } = await import('node:child_process');
    const orphans = left
      .filter((n) => /n\d+$/.test(n))
      .flatMap((ns) =>
        execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).trim().split('\n'),
      )
      .filter((p) => p !== '')
      .map(Number);
    assert.equal(orphans.length, 3, 'the three nodes still run in their namespaces');
    const next = await raftkitWithin(100_000, [
      'verify',
      ...['--seconds', '2', '--nemesis', 'none', '--report', join(report, 'b')],
    ]);
    assert.equal(next.code, 0, `${next.stdout}\n${next.stderr}`);
    assert.match(next.stdout, /removed \d+ namespaces and links left by an earlier run/);
    assert.deepEqual(await NamespaceNetwork.leftovers(pid), []);
    for (const p of orphans) assert.throws(() => process.kill(p, 0), `node process ${p} is gone`);
  } finally {
    run.child.kill('SIGKILL');
    rmSync(report, { recursive: true, force: true });
  }
});

test('without network namespaces (no `ip`), verify says so and runs without partitions', {
  timeout: 90_000,
}, async () => {
  const report = mkdtempSync(join(tmpdir(), 'raftkit-verify-nonet-'));
  const empty = mkdtempSync(join(tmpdir(), 'raftkit-no-ip-'));
  try {
    const { execFile } = await import('node:child_process');
    const r = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          bin,
          'verify',
          '--seconds',
          '4',
          '--nemesis',
          'partition,kill',
          '--fault-interval',
          '800',
          '--report',
          report,
        ],
        // A PATH with no `ip` on it.
        { env: { ...process.env, PATH: empty }, timeout: 80_000 },
        (err, stdout) =>
          resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout }),
      );
    });
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /no partitions: the `ip` command \(iproute2\) is not installed/);
    assert.match(r.stdout, /nodes on loopback/);
    assert.match(lastLine(r.stdout), /^linearizable: /);
  } finally {
    rmSync(report, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
  }
});

test('on loopback too, the nodes of a SIGKILLed verify are stopped by the next run', {
  timeout: 120_000,
}, async () => {
  const report = mkdtempSync(join(tmpdir(), 'raftkit-verify-kill-lo-'));
  const empty = mkdtempSync(join(tmpdir(), 'raftkit-no-ip-'));
  // No `ip` on the PATH: no namespaces, the nodes run on loopback.
  const env = { ...process.env, PATH: empty };
  const run = startVerify(
    ['--seconds', '60', '--nemesis', 'none', '--report', join(report, 'a')],
    /verify: 3 nodes on loopback/,
    env,
  );
  try {
    await run.seen;
    const pid = run.child.pid as number;
    run.child.kill('SIGKILL');
    await run.gone;
    const noted = readFileSync(join(tmpdir(), 'raftkit-verify', `${pid}.pids`), 'utf8')
      .trim()
      .split('\n')
      .map(Number);
    assert.equal(noted.length, 3);
    for (const p of noted) process.kill(p, 0); // still running
    const next = startVerify(
      ['--seconds', '2', '--nemesis', 'none', '--report', join(report, 'b')],
      /linearizable: /,
      env,
    );
    await next.seen;
    assert.equal(await next.gone, 0, next.output());
    assert.match(next.output(), /stopped 3 nodes left running by an earlier run/);
    for (const p of noted) assert.throws(() => process.kill(p, 0), `node process ${p} is gone`);
  } finally {
    run.child.kill('SIGKILL');
    rmSync(report, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
  }
});

test('wrong flags, and a report folder of an earlier run, are refused in one line', async () => {
  const used = mkdtempSync(join(tmpdir(), 'raftkit-verify-used-'));
  writeFileSync(join(used, 'history.jsonl'), '');
  try {
    const cases: [string[], RegExp][] = [
      [['--nodes', '4'], /--nodes.*expected 3, 5 or 7/],
      [
        ['--nemesis', 'kill,flood'],
        /expected a list of kill, pause, partition, member, snapshot, clock; or all, or none \(not "flood"\)/,
      ],
      [['--seconds', '0'], /--seconds.*positive integer/],
      [['--endpoints', 'http://[bad'], /not a URL/],
      [['--read-mode', 'psychic'], /--read-mode.*index, lease/],
      [['--report', used], /the report folder .* is not empty: give a new one/],
    ];
    for (const [args, message] of cases) {
      const r = await raftkitWithin(20_000, ['verify', ...args]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  } finally {
    rmSync(used, { recursive: true, force: true });
  }
});
