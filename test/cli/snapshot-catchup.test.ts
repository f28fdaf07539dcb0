/**
 * The proof, with real processes: a three-node cluster with `--snapshot-entries 1000`,
 * one follower stopped while 20,000 keys are written, then restarted. It catches up by
 * snapshot (its log now starts above the last index it had) and holds the leader's store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { replayKv } from '../../src/cli/replay.js';
import { NodeProcess } from '../../src/verify/index.js';
import { freePorts } from '../support/ports.js';

interface Status {
  role: string;
  firstIndex: number;
  lastIndex: number;
  commitIndex: number;
  appliedIndex: number;
  snapshotIndex: number;
}

async function status(url: string): Promise<Status | null> {
  try {
    const r = await fetch(`${url}/v1/status`, { signal: AbortSignal.timeout(1000) });
    return (await r.json()) as Status;
  } catch {
    return null;
  }
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a follower stopped through 20,000 writes catches up by snapshot and holds the same store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-catchup-'));
  const ports = await freePorts(6);
  const raft = ports.slice(0, 3).map((p) => `127.0.0.1:${p}`);
  const flags = ['--heartbeat-ms', '50', '--election-ms', '300', '--log-level', 'warn'];
  const nodes = [0, 1, 2].map(
    (i) =>
      new NodeProcess({
        index: i,
        raft: raft[i] as string,
        http: `127.0.0.1:${ports[3 + i]}`,
        peers: raft,
        dir,
        extra: [...flags, ...['--snapshot-entries', '1000', '--snapshot-keep-entries', '100']],
      }),
  );
  try {
    for (const n of nodes) n.start();
    const leader = await waitFor('a leader', 20_000, async () => {
      for (const n of nodes) if ((await status(n.url))?.role === 'leader') return n;
      return null;
    });
    const follower = nodes.find((n) => n !== leader) as NodeProcess;
    const had = (await status(follower.url))?.lastIndex ?? 0;
    await follower.stop();
    // 20,000 writes, 64 at a time.
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < 20_000) {
          const i = next++;
          const r = await fetch(`${leader.url}/v1/kv/key-${i}`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ value: `value-${i}` }),
            signal: AbortSignal.timeout(10_000),
          });
          assert.equal(r.status, 200);
          await r.arrayBuffer();
        }
      }),
    );
    t.diagnostic(`20,000 writes in ${Math.round(performance.now() - started)} ms`);
    const leaderStatus = (await status(leader.url)) as Status;
    assert.ok(leaderStatus.snapshotIndex > had && leaderStatus.firstIndex > had + 1);
    follower.start();
    const caughtUp = await waitFor('the follower to catch up', 30_000, async () => {
      const s = await status(follower.url);
      return s !== null && s.appliedIndex >= leaderStatus.commitIndex ? s : null;
    });
    t.diagnostic(
      `the follower had ${had}; now first ${caughtUp.firstIndex}, snapshot ${caughtUp.snapshotIndex}`,
    );
    assert.ok(caughtUp.firstIndex > had, 'its log starts beyond what it had: it got a snapshot');
    assert.ok(caughtUp.snapshotIndex >= caughtUp.firstIndex - 1);
    for (const n of nodes) assert.equal(await n.stop(), 0, 'a clean stop');
    const stores = await Promise.all(
      [leader, follower].map(async (n) => {
        const kv = await replayKv(join(dir, `node${n.index + 1}`));
        const data = kv.report.data as {
          pairs: () => Iterable<readonly [string, { value: string }]>;
        };
        return new Map([...data.pairs()].map(([k, e]) => [k, e.value]));
      }),
    );
    assert.equal(stores[0]?.size, 20_000);
    assert.deepEqual(stores[1], stores[0]);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(nodes.map((n) => n.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});
