/**
 * The API's bounds against abuse, each with a client that breaks it and one that does not:
 * headers sent a byte at a time are cut off at the headers timeout while other clients are
 * served; a body that trickles is cut at the request timeout; connections past the bound and
 * requests past the in-flight bound get 503 with Retry-After; health answers regardless.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { KvCluster } from './support.js';

function connect(address: string): Promise<net.Socket> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), host as string, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything `socket` receives until it closes, and when it closed. */
function received(socket: net.Socket): Promise<{ text: string; closedAt: number }> {
  let text = '';
  socket.on('data', (d) => {
    text += d;
  });
  return new Promise((resolve) => {
    socket.once('close', () => resolve({ text, closedAt: performance.now() }));
    socket.once('error', () => {});
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HTTP limits', () => {
  let cluster: KvCluster;
  let address: string;

  before(async () => {
    cluster = await KvCluster.start(1, {
      server: {
        connectionLimits: {
          headersTimeoutMs: 800,
          bodyTimeoutMs: 1500,
          maxConnections: 8,
          maxInFlight: 4,
        },
      },
    });
    address = cluster.http[0] as string;
    await fetch(`http://${address}/v1/kv/seed`, { method: 'PUT', body: '{"value":"x"}' });
  });
  after(() => cluster?.close());

  test('a client sending its headers a byte at a time is cut off; others are served meanwhile', async () => {
    const slow = await connect(address);
    const done = received(slow);
    const started = performance.now();
    const request = 'GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ';
    let closed = false;
    void done.then(() => {
      closed = true;
    });
    const trickle = (async () => {
      for (let i = 0; i < 60 && !closed; i++) {
        slow.write(request[i] ?? 'a');
        await sleep(100);
      }
    })();
    // Meanwhile, others get answers at once.
    let served = 0;
    while (!closed && performance.now() - started < 5000) {
      const r = await fetch(`http://${address}/v1/kv/seed`, { signal: AbortSignal.timeout(2000) });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
      served++;
      await sleep(50);
    }
    const { text, closedAt } = await done;
    await trickle;
    const ms = closedAt - started;
    assert.ok(ms >= 700 && ms < 3000, `cut after ${Math.round(ms)} ms`);
    assert.match(text, /^HTTP\/1\.1 408/);
    assert.ok(served >= 5, `${served} requests served meanwhile`);
  });

  test('a body that trickles is cut at the whole-request timeout; nothing is written', async () => {
    const slow = await connect(address);
    const done = received(slow);
    const started = performance.now();
    const body = '{"value":"trickled"}';
    slow.write(
      `PUT /v1/kv/trickle HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    for (let i = 0; i < body.length - 1; i++) {
      if (slow.destroyed) break;
      slow.write(body[i] as string);
      await sleep(150);
    }
    const { text, closedAt } = await done;
    const ms = closedAt - started;
    assert.ok(ms >= 1400 && ms < 4000, `cut after ${Math.round(ms)} ms`);
    assert.match(text, /^HTTP\/1\.1 408/);
    const r = await fetch(`http://${address}/v1/kv/trickle`);
    assert.equal(r.status, 404);
  });

  test('connections past the bound get 503 with Retry-After and are closed; below it, served', async () => {
    const idle = await Promise.all(Array.from({ length: 8 }, () => connect(address)));
    // Let the server count them.
    await sleep(100);
    const extra = await connect(address);
    const done = received(extra);
    extra.write('GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n');
    const { text } = await done;
    assert.match(text, /^HTTP\/1\.1 503/);
    assert.match(text, /retry-after: 1/i);
    assert.match(text, /"code":"too-many-connections"/);
    for (const s of idle) s.destroy();
    await sleep(100);
    const r = await fetch(`http://${address}/v1/status`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  });

  test('an idle connection past the bound is closed without waiting for the headers timeout', async () => {
    const idle = await Promise.all(Array.from({ length: 8 }, () => connect(address)));
    await sleep(100);
    const extra = await connect(address);
    const started = performance.now();
    const { closedAt } = await received(extra);
    for (const s of idle) s.destroy();
    assert.ok(closedAt - started < 3000);
  });
});

describe('requests in flight', () => {
  let cluster: KvCluster;

  before(async () => {
    // One node of three: no leader, so a linearizable read waits (2 s) before its 503.
    cluster = await KvCluster.start(3, { server: { connectionLimits: { maxInFlight: 2 } } }, [0]);
  });
  after(() => cluster?.close());

  test('past the bound: 503 overloaded with Retry-After at once; health still answers', async () => {
    const url = cluster.urls[0] as string;
    const waiting = [0, 1].map(() => fetch(`${url}/v1/kv/a`).then((r) => r.status));
    await sleep(200);
    const started = performance.now();
    const over = await fetch(`${url}/v1/kv/a`);
    assert.equal(over.status, 503);
    assert.equal(over.headers.get('retry-after'), '1');
    assert.equal(((await over.json()) as { code: string }).code, 'overloaded');
    assert.ok(performance.now() - started < 500);
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'serving', id: cluster.raft[0] });
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    const body = (await ready.json()) as { ready: boolean; problems: string[] };
    assert.equal(body.ready, false);
    assert.ok(body.problems.includes('no leader known'));
    // The two waiting ones got their own answer: no leader.
    assert.deepEqual(await Promise.all(waiting), [503, 503]);
    // Below the bound again.
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  });

  test('readyz is 200 once the node is a member with a leader', async () => {
    await cluster.startNode(1);
    const url = cluster.urls[0] as string;
    const deadline = performance.now() + 10_000;
    let last: { status: number; body: unknown } = { status: 0, body: null };
    while (performance.now() < deadline) {
      const r = await fetch(`${url}/readyz`);
      last = { status: r.status, body: await r.json() };
      if (r.status === 200) break;
      await sleep(100);
    }
    assert.equal(last.status, 200, JSON.stringify(last.body));
    assert.equal((last.body as { ready: boolean }).ready, true);
  });
});
