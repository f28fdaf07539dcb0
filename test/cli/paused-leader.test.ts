/**
 * The probe's report: with the leader stopped by SIGSTOP and listed first,
 * `raftkit put k v --endpoints LEADER,F1,F2` failed after its whole 10 s deadline, though a
 * new leader existed after about 1.5 s. Three real `raftkit node` processes with the default
 * timing (elections after 1 to 2 s), the real command.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NodeProcess, statusOf } from '../../src/verify/index.js';
import { freePorts } from '../support/ports.js';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/raftkit.js');

async function leaderOf(nodes: readonly NodeProcess[], timeoutMs: number): Promise<NodeProcess> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    for (const n of nodes) {
      if (n.paused) continue;
      if ((await statusOf(n.url))?.role === 'leader') return n;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no leader in time');
}

test('a put with the paused leader listed first succeeds once a new leader is elected', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-paused-'));
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
  try {
    for (const n of nodes) n.start();
    const leader = await leaderOf(nodes, 15_000);
    const others = nodes.filter((n) => n !== leader);
    const endpoints = [leader, ...others].map((n) => n.url).join(',');
    leader.pause();
    const started = performance.now();
    const put = await promisify(execFile)(
      process.execPath,
      [bin, 'put', 'k', 'v', '--endpoints', endpoints],
      { timeout: 20_000 },
    ).catch((e: { code: number; stdout: string; stderr: string }) => e);
    const ms = performance.now() - started;
    t.diagnostic(`the put took ${Math.round(ms)} ms`);
    assert.equal('code' in put ? put.code : 0, 0, put.stderr);
    const { index } = JSON.parse(put.stdout) as { index: number };
    // The election takes 1-2 s; the old client used up its whole 10 s deadline.
    assert.ok(ms < 6000, `the put took ${Math.round(ms)} ms`);
    const elected = await leaderOf(others, 5000);
    const got = await fetch(`${elected.url}/v1/kv/k`, { signal: AbortSignal.timeout(5000) });
    assert.deepEqual(await got.json(), { key: 'k', value: 'v', index });
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(nodes.map((n) => n.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});
