/**
 * The seed's lab, with real processes (examples/lab/node.ts) on loopback:
 * (a) three nodes elect a leader, which writes VARIABLE; every node applies it;
 * (b) the leader is killed (SIGKILL); the two others elect a new leader, which writes a
 *     second value that both apply;
 * (c) the old leader restarts, comes back as a follower and catches up: it applies both
 *     values, and once all are stopped the three data directories hold the same log.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { replayObjects } from '../../src/cli/replay.js';
import { describeCommand } from '../../src/node/index.js';
import { inspectDataDir } from '../../src/storage/index.js';
import { eventually, freePorts } from '../support/ports.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

class Lab {
  readonly dir = mkdtempSync(join(tmpdir(), 'raftkit-lab-'));
  readonly procs = new Map<number, ChildProcess>();
  readonly stderr = new Map<number, string>();

  constructor(readonly ports: number[]) {}

  address(n: number): string {
    return `127.0.0.1:${this.ports[n - 1]}`;
  }

  start(n: number): void {
    const args = [
      '--import',
      'tsx',
      'examples/lab/node.ts',
      '--node',
      String(n),
      '--dir',
      this.dir,
      '--ports',
      this.ports.join(','),
      '--heartbeat-ms',
      '50',
      '--election-ms',
      '300',
    ];
    const p = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    this.stderr.set(n, '');
    p.stderr?.on('data', (d: Buffer) =>
      this.stderr.set(n, (this.stderr.get(n) ?? '') + d.toString()),
    );
    this.procs.set(n, p);
  }

  lines(n: number): string[] {
    const file = join(this.dir, `node${n}_CUSTOMLOG.log`);
    return existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];
  }

  leaderSeenBy(n: number, from = 0): string | undefined {
    const changes = this.lines(n)
      .slice(from)
      .filter((l) => l.startsWith('Leader is now: '));
    return changes.at(-1)?.slice('Leader is now: '.length);
  }

  applied(n: number, value: string, from = 0): boolean {
    return this.lines(n)
      .slice(from)
      .some((l) => l.startsWith(`Applied VARIABLE = ${JSON.stringify(value)}`));
  }

  async stop(n: number, signal: NodeJS.Signals): Promise<void> {
    const p = this.procs.get(n);
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((n) => this.stop(n, 'SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

test('the lab: election, a crash of the leader, re-election, and the old leader catching up', async (t) => {
  const lab = new Lab(await freePorts(3));
  const all = [1, 2, 3];
  const wait = (check: () => boolean, what: string): Promise<void> =>
    eventually(check, `${what}; stderr: ${JSON.stringify([...lab.stderr])}`, 30_000);
  try {
    // (a) First election and first value.
    for (const n of all) lab.start(n);
    let first = 0;
    await wait(() => {
      const seen = all.map((n) => lab.leaderSeenBy(n));
      first = all.find((n) => seen[0] === lab.address(n)) ?? 0;
      return first !== 0 && seen.every((s) => s === seen[0]);
    }, 'a first leader known to all');
    await wait(() => lab.lines(first).includes('Done writing VARIABLE'), 'the first write');
    const value1 = valueWrittenBy(lab, first);
    await wait(() => all.every((n) => lab.applied(n, value1)), 'the first value everywhere');
    t.diagnostic(`(a) leader ${lab.address(first)} wrote ${value1}`);

    // (b) The leader crashes; the two others elect a new one, which writes a second value.
    await lab.stop(first, 'SIGKILL');
    const survivors = all.filter((n) => n !== first);
    let second = 0;
    await wait(() => {
      const seen = survivors.map((n) => lab.leaderSeenBy(n));
      second = survivors.find((n) => seen[0] === lab.address(n)) ?? 0;
      return second !== 0 && seen.every((s) => s === seen[0]);
    }, 'a second leader');
    await wait(() => lab.lines(second).includes('Done writing VARIABLE'), 'the second write');
    await wait(() => lab.lines(second).includes('Done writing VARIABLE'), 'the second write');
    const value2 = valueWrittenBy(lab, second);
    assert.notEqual(value2, value1);
    await wait(
      () => survivors.every((n) => lab.applied(n, value2)),
      'the second value on both survivors',
    );
    for (const n of survivors) {
      assert.ok(
        lab.lines(n).includes('Leader is now: None'),
        `node ${n} never logged the lost leader`,
      );
    }
    t.diagnostic(`(b) leader ${lab.address(second)} wrote ${value2}`);

    // (c) The old leader comes back as a follower and catches up.
    const before = lab.lines(first).length;
    lab.start(first);
    await wait(
      () =>
        lab.leaderSeenBy(first, before) === lab.address(second) &&
        lab.applied(first, value2, before),
      'the old leader to follow the new one and apply the second value',
    );
    assert.ok(lab.applied(first, value1, before), 'the first value was not replayed');
    assert.equal(lab.leaderSeenBy(second), lab.address(second), 'leadership moved on the restart');

    // All stop cleanly (SIGTERM); the three data directories agree.
    await Promise.all(all.map((n) => lab.stop(n, 'SIGTERM')));
    for (const n of all)
      assert.equal(lab.procs.get(n)?.exitCode, 0, `node ${n}: ${lab.stderr.get(n)}`);
    const reports = await Promise.all(
      all.map((n) => inspectDataDir(join(lab.dir, `node${n}`), { describe: describeCommand })),
    );
    const logs = reports.map((r) => JSON.stringify((r.log as { entries: unknown[] }).entries));
    assert.equal(logs[1], logs[0]);
    assert.equal(logs[2], logs[0]);
    const states = await Promise.all(all.map((n) => replayObjects(join(lab.dir, `node${n}`))));
    for (const s of states) assert.deepEqual(s.objects, [['VARIABLE', 'value', value2]]);
    t.diagnostic(
      `(c) all three logs hold ${(reports[0] as { log: { lastIndex: number } }).log.lastIndex} entries, identical`,
    );
  } finally {
    await lab.cleanup();
  }
});

/** The value node `n` wrote while it led (the lab writes its address into it). */
function valueWrittenBy(lab: Lab, n: number): string {
  const line = lab.lines(n).find((l) => l.includes(`"written by ${lab.address(n)} in term`));
  const m = line === undefined ? null : /^Applied VARIABLE = ("[^"]*")/.exec(line);
  assert.ok(m !== null, `node ${n} applied no value of its own: ${lab.lines(n).join(' | ')}`);
  return JSON.parse(m[1] as string) as string;
}
