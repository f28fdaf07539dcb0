/**
 * Snapshots on a running key-value cluster (real disks, real sockets, small thresholds): every
 * node snapshots and compacts its log; a follower stopped while the others went far ahead
 * catches up by snapshot, streamed in pieces; a whole cluster restarted restores from its
 * snapshots and replays only what follows them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { replayKv } from '../../src/cli/replay.js';
import type { KvNode } from '../../src/kv/index.js';
import { inspectDataDir } from '../../src/storage/index.js';
import { eventually } from '../support/ports.js';
import { KvCluster, request } from './support.js';

const small = {
  snapshotEntries: 50,
  snapshotKeepEntries: 10,
  // Small pieces, so that a follower's snapshot comes in many.
  snapshotTransfer: { chunkBytes: 4096, windowBytes: 16_384 },
};

async function putMany(url: string, from: number, to: number, pad = ''): Promise<void> {
  for (let i = from; i < to; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, to - i) }, (_, j) =>
        request(
          `${url}/v1/kv/key-${i + j}`,
          'PUT',
          JSON.stringify({ value: `value ${i + j}${pad}` }),
        ),
      ).map(async (r) => assert.equal((await r).status, 200)),
    );
  }
}

const storeOf = (n: KvNode) => new Map(n.store.snapshot().data);

test('snapshots are taken, a far-behind follower catches up by one, a restart restores', async () => {
  const c = await KvCluster.start(3, small);
  try {
    const leader = await c.leader();
    const url = c.urls[leader] as string;
    await putMany(url, 0, 300);
    await eventually(
      () => c.nodes.every((n) => n !== null && n.node.status().snapshotIndex > 0),
      'every node to take a snapshot',
    );
    const ls = c.nodes[leader]?.node.status();
    assert.ok(ls !== undefined && ls.firstIndex > 1, 'the leader compacted its log');
    // A follower goes down; the others move on far beyond what the leader keeps.
    const follower = (leader + 1) % 3;
    const before = c.nodes[follower]?.node.status().lastIndex ?? 0;
    await c.stopNode(follower);
    await putMany(url, 300, 700);
    assert.ok((c.nodes[leader]?.node.status().firstIndex ?? 0) > before + 1, 'it needs a snapshot');
    const back = await c.startNode(follower);
    await eventually(
      () => back.node.status().appliedIndex >= (c.nodes[leader]?.node.status().commitIndex ?? 0),
      'the follower to catch up',
      10_000,
    );
    const fs = back.node.status();
    assert.ok(
      fs.firstIndex > before,
      `its log starts at ${fs.firstIndex}, beyond the ${before} it had`,
    );
    assert.ok(fs.snapshotIndex > before);
    assert.deepEqual(storeOf(back), storeOf(c.nodes[leader] as KvNode));
    assert.equal(back.store.size, 700);
    const stats = c.nodes[leader]?.node.transportStats();
    assert.ok((stats?.sentByType['snapshot-chunk'] ?? 0) > 3, 'sent in several pieces');
    // inspect sees the snapshot, and the store as of it plus the log after it.
    const dir = join(c.dir, `node${leader}`);
    const report = await inspectDataDir(dir);
    const snap = report.snapshot as { index: number; term: number; bytes: number; file: string };
    assert.ok(snap.index > 0 && snap.bytes > 0 && snap.file.startsWith('state_machine/'));
    const kv = await replayKv(dir);
    assert.equal(kv.isKv, true);
    assert.equal(kv.report.keys, 700);
    assert.ok((kv.report.snapshotIndex as number) > 0);
    // Every node restarts: each restores its snapshot and replays the log after it.
    for (let i = 0; i < 3; i++) await c.stopNode(i);
    for (let i = 0; i < 3; i++) await c.startNode(i);
    const again = await c.leader();
    const got = await request(`${c.urls[again]}/v1/kv/key-650`);
    assert.equal(got.body.value, 'value 650');
    for (const n of c.nodes) assert.equal(n?.store.size, 700);
  } finally {
    await c.close();
  }
});

test('over UDP a snapshot comes in pieces that each fit a datagram, acknowledged', async () => {
  // Default pieces (1 MiB) do not fit a datagram: the sender cuts them to what one carries.
  const c = await KvCluster.start(3, {
    transport: 'udp',
    snapshotEntries: 50,
    snapshotKeepEntries: 10,
  });
  try {
    const leader = await c.leader();
    const url = c.urls[leader] as string;
    const follower = (leader + 1) % 3;
    await c.stopNode(follower);
    await putMany(url, 0, 400, 'x'.repeat(1000));
    const back = await c.startNode(follower);
    await eventually(
      () => back.node.status().appliedIndex >= (c.nodes[leader]?.node.status().commitIndex ?? 0),
      'the follower to catch up over UDP',
      10_000,
    );
    assert.ok(back.node.status().snapshotIndex > 0, 'by snapshot');
    assert.deepEqual(storeOf(back), storeOf(c.nodes[leader] as KvNode));
    const sent = c.nodes[leader]?.node.transportStats().sentByType['snapshot-chunk'] ?? 0;
    // The state the snapshot holds (about 1 KB a key, one key an entry but for a few entries
    // of sessions and configuration) in pieces of under 64 KiB. Which snapshot the follower
    // is sent (at 300, 350 or 400 entries) depends on timing: count from the one it got.
    const stateBytes = (back.node.status().snapshotIndex - 10) * 1000;
    assert.ok(sent >= Math.floor(stateBytes / 65_536), `${sent} pieces for ${stateBytes} bytes`);
    const acks = back.node.transportStats().sentByType['snapshot-ack'] ?? 0;
    assert.ok(acks >= sent - 1, `${acks} acknowledgements for ${sent} pieces`);
  } finally {
    await c.close();
  }
});
