/**
 * `raftkit recover`: a majority lost for good, a surviving node made the only voter. It refuses
 * without --accept-data-loss, and with it the node starts alone, keeps what it had, serves
 * writes, and says who its members are.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePortRange, freePorts } from '../support/ports.js';
import { bin, raftkit, stopTree } from '../support/raftkit.js';

const dir = mkdtempSync(join(tmpdir(), 'raftkit-recover-'));
const children: ChildProcess[] = [];

after(async () => {
  await Promise.all(children.map((c) => stopTree(c)));
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let text = '';
  child.stdout?.on('data', (c: Buffer) => {
    text += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    text += c.toString();
  });
  return { child, output: () => text };
}

async function until(
  what: string,
  f: () => Promise<boolean> | boolean,
  ms = 20_000,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await f())) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const exited = (c: ChildProcess): Promise<void> =>
  c.exitCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r()));

test('a surviving node is made the only voter, and only with --accept-data-loss', async () => {
  const base = await freePortRange(6);
  const endpoints = `--endpoints=127.0.0.1:${base + 3},127.0.0.1:${base + 4},127.0.0.1:${base + 5}`;
  const cluster = start(
    ['cluster', '--base-port', String(base), '--http-base-port', String(base + 3)].concat([
      '--data',
      dir,
      '--heartbeat-ms',
      '50',
      '--election-ms',
      '300',
    ]),
  );
  await until('the cluster is ready', () => /ready: 3 nodes/.test(cluster.output()));
  const put = await raftkit('put', 'kept', 'yes', endpoints);
  assert.equal(put.code, 0, put.stderr);
  // Every node has applied it (so node 1, the survivor, holds it committed).
  await until('node 1 has the write', async () => {
    const r = await raftkit('get', 'kept', '--stale', `--endpoints=127.0.0.1:${base + 3}`);
    return r.code === 0;
  });
  cluster.child.kill('SIGTERM');
  await exited(cluster.child);

  const survivor = join(dir, 'node1');
  const refused = await raftkit('recover', survivor);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /refused: .*committed .*lost for good.*--accept-data-loss/);

  const done = await raftkit('recover', survivor, '--accept-data-loss');
  assert.equal(done.code, 0, done.stderr);
  const id = `127.0.0.1:${base}`;
  assert.deepEqual(JSON.parse(done.stdout.split('\n')[0] as string).voters, [id]);
  assert.match(done.stderr, /WARNING: .*lost for good/);

  const [http] = (await freePorts(1)) as [number];
  const alone = start(
    [
      'node',
      '--listen',
      id,
      '--peers',
      id,
      '--data',
      survivor,
      '--http',
      `127.0.0.1:${http}`,
    ].concat(['--heartbeat-ms', '50', '--election-ms', '300']),
  );
  const one = `--endpoints=127.0.0.1:${http}`;
  await until(
    'the survivor serves alone',
    async () => (await raftkit('put', 'after', 'ok', one)).code === 0,
  );
  const got = await raftkit('get', 'kept', one);
  assert.equal(JSON.parse(got.stdout).value, 'yes', 'what it had is kept');
  const status = JSON.parse((await raftkit('status', one)).stdout);
  assert.deepEqual(status.members, [id]);
  assert.equal(status.role, 'leader');
  alone.child.kill('SIGTERM');
  await exited(alone.child);
});
