/**
 * The probe's report: a cluster A, and separately a cluster B on the same addresses (its
 * term raised by a few leader changes); A's first two nodes started with A's data and the
 * third with B's. B's node won an election in A and every read and write of A returned 504
 * until it was stopped. Now each cluster draws an identity when it first forms, every frame
 * carries it, and a peer of another identity is refused, counted and logged.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KvNode } from '../../src/kv/index.js';
import { eventually } from '../support/ports.js';
import { KvCluster, request } from './support.js';

const running = (c: KvCluster): KvNode[] => c.nodes.filter((n): n is KvNode => n !== null);

async function stopAll(c: KvCluster): Promise<void> {
  for (let i = 0; i < c.nodes.length; i++) await c.stopNode(i);
}

/** Waits until every running node of `c` has learnt its cluster's identity; returns it. */
async function identityOf(c: KvCluster): Promise<string> {
  await eventually(
    () => running(c).every((n) => n.node.clusterIdentity !== null),
    'every node to learn its cluster identity',
  );
  const ids = new Set(running(c).map((n) => n.node.clusterIdentity));
  assert.equal(ids.size, 1, 'one identity for the whole cluster');
  return [...ids][0] as string;
}

test("a node started with another cluster's data cannot take over; it is refused and counted", async (t) => {
  const a = await KvCluster.start(3);
  let b: KvCluster | null = null;
  let mixed: KvCluster | null = null;
  try {
    await a.leader();
    assert.equal((await request(`${a.urls[0]}/v1/kv/k`, 'PUT', '{"value":"A"}')).status, 200);
    const identityA = await identityOf(a);
    const termA = Math.max(...running(a).map((n) => n.node.term));
    await stopAll(a);

    // Cluster B: the same addresses and ids, its own data; its term raised by elections.
    b = await KvCluster.on(a.raft, a.http);
    for (let i = 0; i < 4; i++) {
      const leader = await b.leader();
      const next = b.raft[(leader + 1) % 3] as string;
      await b.nodes[leader]?.node.transferLeadership(next, { timeoutMs: 3000 });
    }
    await b.leader();
    assert.equal((await request(`${b.urls[0]}/v1/kv/k`, 'PUT', '{"value":"B"}')).status, 200);
    const identityB = await identityOf(b);
    assert.notEqual(identityB, identityA);
    const termB = Math.max(...running(b).map((n) => n.node.term));
    assert.ok(termB > termA, `B's term ${termB} is above A's ${termA}`);
    await stopAll(b);

    // A's first two nodes on A's data, the third on B's.
    mixed = await KvCluster.on(a.raft, a.http, {}, []);
    const n0 = await mixed.startNode(0, { dataDir: join(a.dir, 'node0') });
    const n1 = await mixed.startNode(1, { dataDir: join(a.dir, 'node1') });
    const intruder = await mixed.startNode(2, { dataDir: join(b.dir, 'node2') });
    assert.equal(intruder.node.clusterIdentity, identityB);
    // For two seconds (B's node campaigns in a higher term all along), A serves every write
    // and read, and leads itself.
    const until = performance.now() + 2000;
    let writes = 0;
    while (performance.now() < until) {
      const put = await request(`${mixed.urls[0]}/v1/kv/k`, 'PUT', `{"value":"A${writes}"}`);
      assert.equal(put.status, 200, put.text);
      const got = await request(`${mixed.urls[1]}/v1/kv/k`);
      assert.equal(got.body.value, `A${writes}`);
      writes++;
      for (const n of [n0, n1]) assert.notEqual(n.node.leader, a.raft[2], 'B took the lead');
    }
    // Over TCP the smaller id dials and the other side refuses its hello: which side counts
    // the refusals depends on the ids, so they are summed.
    const dropped = (n: KvNode) => n.node.transportStats().dropped.cluster;
    const refused = dropped(n0) + dropped(n1) + dropped(intruder);
    t.diagnostic(`${writes} writes and reads served; ${refused} frames between A and B refused`);
    assert.ok(refused > 0, 'the frames between A and B were refused and counted');
    assert.equal(n0.node.clusterIdentity, identityA);
    const side = dropped(intruder) > 0 ? 2 : dropped(n0) > 0 ? 0 : 1;
    const metrics = (await request(`${mixed.urls[side]}/metrics`)).text;
    assert.match(metrics, /raftkit_messages_dropped_total\{reason="cluster"\} [1-9]/);
  } finally {
    if (mixed !== null) await stopAll(mixed);
    await b?.close();
    await mixed?.close();
    await a.close();
  }
});
