/**
 * RaftkitClient against real clusters: it finds the leader, goes around dead endpoints,
 * rides out a leader's loss, applies a write once when its answer is lost, renews an expired
 * session, and fails with typed errors.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { BadRequestError, RaftkitClient, UnavailableError } from '../../src/kv/index.js';
import { TimeoutError } from '../../src/node/index.js';
import { freePorts } from '../support/ports.js';
import { KvCluster } from './support.js';

test('finds the leader behind a dead endpoint and a follower, and serves every call', async () => {
  const cluster = await KvCluster.start(3);
  const [dead] = await freePorts(1);
  const leader = await cluster.leader();
  const follower = (leader + 1) % 3;
  const client = new RaftkitClient({
    endpoints: [
      `127.0.0.1:${dead}`,
      cluster.urls[follower] as string,
      cluster.urls[leader] as string,
    ],
  });
  try {
    const { index } = await client.put('k', 'v');
    assert.equal(client.endpoint, cluster.urls[leader]);
    assert.deepEqual(await client.get('k'), { key: 'k', value: 'v', index });
    assert.equal(await client.get('absent'), null);
    assert.deepEqual(await client.cas('k', 'v', 'w'), { succeeded: true, index: index + 1 });
    assert.deepEqual(await client.cas('k', 'v', 'x'), { succeeded: false, index: index + 2 });
    assert.deepEqual(await client.delete('k'), { deleted: true, index: index + 3 });
    assert.equal((await client.get('k', { stale: true }))?.value, undefined);
    const status = await client.status();
    assert.equal(status.role, 'leader');
    assert.equal(status.id, cluster.raft[leader]);
    await assert.rejects(client.put('k'.repeat(2000), 'v'), (e: unknown) => {
      assert.ok(e instanceof BadRequestError);
      assert.equal(e.status, 400);
      assert.match(e.message, /key is 2000 bytes/);
      return true;
    });
  } finally {
    client.close();
    await cluster.close();
  }
});

test('keeps going when the leader stops: same writes, a new leader, nothing lost', async () => {
  const cluster = await KvCluster.start(3);
  const client = new RaftkitClient({ endpoints: cluster.urls, timeoutMs: 15_000 });
  try {
    const leader = await cluster.leader();
    await client.put('before', '1');
    await cluster.stopNode(leader);
    // Issued while the cluster has no leader: the client waits and retries.
    const writes = await Promise.all([client.put('after', '2'), client.cas('before', '1', '3')]);
    assert.equal(writes[1].succeeded, true);
    assert.equal((await client.get('after'))?.value, '2');
    assert.equal((await client.get('before'))?.value, '3');
    assert.notEqual(client.endpoint, cluster.urls[leader]);
  } finally {
    client.close();
    await cluster.close();
  }
});

test('a write whose answer is lost is retried and applied once', async () => {
  const cluster = await KvCluster.start(3);
  const leader = await cluster.leader();
  const target = new URL(cluster.urls[leader] as string);
  // A proxy that passes every request on, but cuts the connection instead of answering the
  // first compare-and-set: the client cannot know whether it was applied.
  let cut = 0;
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const out = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (c: Buffer) => body.push(c));
          answer.on('end', () => {
            if (req.url?.endsWith('/cas') && cut++ === 0) {
              res.destroy();
              return;
            }
            res.writeHead(answer.statusCode ?? 500, answer.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const client = new RaftkitClient({
    endpoints: [`127.0.0.1:${(proxy.address() as AddressInfo).port}`],
  });
  try {
    // The first attempt applies (absent -> 'mine') but its answer is lost. Without sessions,
    // the retry would find the key present and report failure.
    const result = await client.cas('lock', null, 'mine');
    assert.equal(cut, 2);
    assert.equal(result.succeeded, true);
    const stored = await client.get('lock');
    assert.deepEqual(stored, { key: 'lock', value: 'mine', index: result.index });
  } finally {
    client.close();
    proxy.closeAllConnections();
    proxy.close();
    await cluster.close();
  }
});

test('an expired session is renewed without the caller noticing', async () => {
  const cluster = await KvCluster.start(3, { sessions: { ttlMs: 300 } });
  const a = new RaftkitClient({ endpoints: cluster.urls });
  const b = new RaftkitClient({ endpoints: cluster.urls });
  try {
    await a.put('k', '1');
    await new Promise((r) => setTimeout(r, 600));
    await b.put('other', 'x'); // moves log time on: a's session expires
    assert.ok((await a.put('k', '2')).index > 0);
    assert.equal((await a.get('k'))?.value, '2');
  } finally {
    a.close();
    b.close();
    await cluster.close();
  }
});

test('typed failures: nothing reachable, and a write with no leader to take it', async () => {
  const ports = await freePorts(2);
  const nobody = new RaftkitClient({
    endpoints: ports.map((p) => `127.0.0.1:${p}`),
    timeoutMs: 300,
  });
  await assert.rejects(nobody.get('k'), UnavailableError);
  await assert.rejects(nobody.put('k', 'v'), UnavailableError);
  nobody.close();

  const cluster = await KvCluster.start(3, { server: { leaderWaitMs: 50 } }, [0]);
  const lonely = new RaftkitClient({ endpoints: [cluster.urls[0] as string], timeoutMs: 500 });
  try {
    // Every answer is 503 "no leader": surely not applied, so not a timeout of unknown outcome.
    await assert.rejects(lonely.get('k'), UnavailableError);
    await assert.rejects(lonely.put('k', 'v'), (e: unknown) => {
      assert.ok(e instanceof UnavailableError && !(e instanceof TimeoutError));
      assert.match(e.message, /no leader/);
      return true;
    });
  } finally {
    lonely.close();
    await cluster.close();
  }
});
