/**
 * A cluster's identity: drawn by its first leader once its first entry commits, written once
 * in the log, learnt by every node as it applies that entry, recorded in `raftkit.json`, and
 * put on every frame from the moment a restarted node starts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterIdentityOf } from '../../src/node/index.js';
import { FileStorage } from '../../src/storage/index.js';
import { eventually } from '../support/ports.js';
import { encode, TestCluster } from './support.js';

test('one identity per cluster, in the log once, kept across restarts and leader changes', async () => {
  const c = await TestCluster.start(3);
  try {
    let leader = await c.leader();
    await leader.propose(encode('a'));
    await eventually(
      () => [...c.nodes.values()].every((n) => n.clusterIdentity !== null),
      'every node to learn the identity',
    );
    const identity = leader.clusterIdentity as string;
    assert.match(identity, /^[0-9a-f]{16}$/);
    for (const n of c.nodes.values()) assert.equal(n.status().cluster, identity);
    // Leadership moves twice; a node restarts: no second identity is ever written.
    for (let i = 0; i < 2; i++) {
      const next = c.followers()[0];
      assert.ok(next !== undefined);
      await leader.transferLeadership(next.id, { timeoutMs: 3000 });
      leader = await c.leader();
      await leader.propose(encode(`under ${leader.id}`));
    }
    const restarted = c.followers()[0];
    assert.ok(restarted !== undefined);
    await restarted.stop();
    const again = await c.startNode(restarted.id);
    // Known at once, from raftkit.json, before the node has heard from anyone.
    assert.equal(again.clusterIdentity, identity);
    await leader.propose(encode('after the restart'));
    await c.applied(4);
    const identityFile = new TextDecoder().decode(await c.fs.readFile(`/${again.id}/raftkit.json`));
    assert.equal(JSON.parse(identityFile).cluster, identity);
    const storage = await FileStorage.open(`/${leader.id}`, {
      fs: c.fs,
      readOnly: true,
      logger: { warn() {} },
    });
    const entries = storage.entries(1, storage.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
    await storage.close();
    const named = entries.filter((e) => e.kind === 'command' && clusterIdentityOf(e.data) !== null);
    assert.equal(named.length, 1, 'the identity is in the log once');
  } finally {
    await c.stop();
  }
});
