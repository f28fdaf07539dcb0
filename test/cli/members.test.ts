/**
 * Changing members from the command line, as the README's walk-through does it in three
 * terminals: a `raftkit cluster`, a new `raftkit node --join` with an empty data directory,
 * and `raftkit member ...` / `raftkit leader transfer` against them. Real processes on
 * loopback, the built bin.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePortRange, freePorts } from '../support/ports.js';
import { bin, raftkitWithin, stopTree } from '../support/raftkit.js';

// A member add waits for the new node to catch up.
const raftkit = (...args: string[]) => raftkitWithin(30_000, args);

/** Collects a child's stdout and stderr; `waitFor` resolves once a pattern shows up. */
class Watched {
  text = '';
  constructor(readonly child: ChildProcess) {
    for (const s of [child.stdout, child.stderr]) {
      s?.on('data', (c: Buffer) => {
        this.text += c.toString();
      });
    }
  }

  async waitFor(pattern: RegExp, ms: number): Promise<void> {
    const deadline = performance.now() + ms;
    while (!pattern.test(this.text)) {
      if (performance.now() > deadline) throw new Error(`no ${pattern} in ${ms} ms:\n${this.text}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  exited(): Promise<number | null> {
    const c = this.child;
    if (c.exitCode !== null) return Promise.resolve(c.exitCode);
    return new Promise((r) => c.once('exit', (code) => r(code)));
  }
}

interface MemberList {
  voters: { id: string; address: string }[];
  learners: { id: string; address: string }[];
}
const voterIds = (l: MemberList): string[] => l.voters.map((v) => v.id).sort();

describe('raftkit member and raftkit node --join', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-members-'));
  let cluster: Watched;
  let joiner: Watched | null = null;
  let base: number;
  let endpoints: string;
  const timing = ['--heartbeat-ms', '50', '--election-ms', '300'];

  before(async () => {
    base = await freePortRange(6);
    endpoints = `--endpoints=127.0.0.1:${base + 3},127.0.0.1:${base + 4},127.0.0.1:${base + 5}`;
    cluster = new Watched(
      spawn(
        process.execPath,
        [bin, 'cluster', '--base-port', String(base), '--http-base-port', String(base + 3)]
          .concat(['--data', join(dir, 'cluster')])
          .concat(timing),
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    await cluster.waitFor(/ready: 3 nodes/, 20_000);
  });

  after(async () => {
    await Promise.all([cluster, joiner].map((w) => (w === null ? undefined : stopTree(w.child))));
    rmSync(dir, { recursive: true, force: true });
  });

  test('a new node joins with --join, is caught up and promoted; then members change', async () => {
    const [raft, httpPort] = (await freePorts(2)) as [number, number];
    const id = `127.0.0.1:${raft}`;
    joiner = new Watched(
      spawn(
        process.execPath,
        [bin, 'node', '--listen', id, '--http', `127.0.0.1:${httpPort}`]
          .concat(['--data', join(dir, 'new'), '--join', `http://127.0.0.1:${base + 3}`])
          .concat(['--log-format', 'json'], timing),
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    await joiner.waitFor(/joined as voter/, 20_000);

    const listed = await raftkit('member', 'list', endpoints);
    assert.equal(listed.code, 0, listed.stderr);
    const members = JSON.parse(listed.stdout) as MemberList;
    assert.equal(members.voters.length, 4);
    assert.deepEqual(
      members.voters.find((v) => v.id === id),
      { id, address: id },
    );

    // The new member serves: a write through the old ones is read back through it.
    assert.equal((await raftkit('put', 'joined', 'yes', endpoints)).code, 0);
    const got = await raftkit('get', 'joined', `--endpoints=127.0.0.1:${httpPort}`);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(JSON.parse(got.stdout).value, 'yes');

    // Leadership moves to the new node, then the first original node is removed.
    const moved = await raftkit('leader', 'transfer', id, endpoints);
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(JSON.parse(moved.stdout).leader, id);
    const old = `127.0.0.1:${base}`;
    const removed = await raftkit('member', 'remove', old, endpoints);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(voterIds(JSON.parse(removed.stdout)).includes(old), false);
    // The removed node says so in one line and stops (its supervisor reports the exit).
    await cluster.waitFor(
      /node1 \| .*removed from the cluster \(configuration at index \d+\)/,
      10_000,
    );
    await cluster.waitFor(/node1 exited \(code 0\)/, 10_000);

    // A learner is added and promoted in two steps.
    const learnerAddress = `127.0.0.1:${base}`;
    const asLearner = await raftkit(
      'member',
      'add',
      'spare',
      '--address',
      learnerAddress,
      '--learner',
      endpoints,
    );
    assert.equal(asLearner.code, 0, asLearner.stderr);
    assert.deepEqual(
      (JSON.parse(asLearner.stdout) as MemberList).learners.map((l) => l.id),
      ['spare'],
    );
    // Nobody runs at that address, so it cannot catch up: promotion is refused, typed.
    const promote = await raftkit('member', 'promote', 'spare', '--timeout-ms', '3000', endpoints);
    assert.equal(promote.code, 1);
    assert.match(promote.stderr, /not-caught-up/);
    const dropped = await raftkit('member', 'remove', 'spare', endpoints);
    assert.equal(dropped.code, 0, dropped.stderr);
    assert.equal((JSON.parse(dropped.stdout) as MemberList).learners.length, 0);
    assert.equal((await raftkit('put', 'after', 'changes', endpoints)).code, 0);
  });

  test('refusals: an unknown member, a bad address, a missing flag', async () => {
    const unknown = await raftkit('member', 'remove', 'nobody', endpoints);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown-member\).*nobody is not a member/);
    const bad = await raftkit('member', 'add', 'x', '--address', 'nowhere', endpoints);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /host:port/);
    const missing = await raftkit('member', 'add', 'x', endpoints);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /required option '--address <host:port>'/);
    const both = await raftkit(
      'node',
      '--listen',
      '127.0.0.1:1',
      '--peers',
      '127.0.0.1:2',
      '--join',
      'http://127.0.0.1:3',
      '--data',
      join(dir, 'both'),
    );
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--peers \(a new cluster\) or --join \(a running one\)/);
  });
});
