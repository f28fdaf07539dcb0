/**
 * The log's time decides when a client session expires. It used to be the largest server
 * timestamp ever applied, so one node whose clock ran two hours fast expired every session in
 * the cluster with a single write, and a client whose retried write then got 409 could not
 * know whether it had applied. Now only leaders stamp entries, with the log time they
 * started from plus the time their own monotonic clock measured since.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '../../src/node/system-clock.js';
import { KvCluster, request } from './support.js';

const TWO_HOURS_MS = 2 * 60 * 60 * 1000;

test('a node whose clock is two hours fast does not expire the sessions of the cluster', async () => {
  const cluster = await KvCluster.start(3, {}, [0, 1]);
  try {
    const leader = await cluster.leader();
    const url = cluster.urls[leader] as string;
    const session = await request(`${url}/v1/sessions`, 'POST');
    assert.equal(session.status, 200);
    const client = String(session.body.client);
    const write = (seq: number, at = url) =>
      request(`${at}/v1/kv/k`, 'PUT', JSON.stringify({ value: `v${seq}` }), {
        'raftkit-client': client,
        'raftkit-seq': String(seq),
        'raftkit-ack': String(seq),
      });
    assert.equal((await write(1)).status, 200);
    // The third node starts with every clock it could read two hours fast.
    const fast = { now: () => systemClock.now() + TWO_HOURS_MS, setTimer: systemClock.setTimer };
    await cluster.startNode(2, { clock: fast });
    await cluster.leader();
    // One write through it, and one through each of the others.
    for (const at of cluster.urls) {
      const plain = await request(`${at}/v1/kv/other`, 'PUT', '{"value":"x"}');
      assert.equal(plain.status, 200, plain.text);
    }
    const after = await write(2);
    assert.equal(after.status, 200, `the session expired: ${after.text}`);
  } finally {
    await cluster.close();
  }
});
