/**
 * Endpoints that are not what they should be. An answer counts only if it is a raftkit
 * answer; anything else is a failed endpoint and the next one is tried. An endpoint that
 * accepts a request and never answers is given up within about a second, not at the deadline.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { RaftkitClient, UnavailableError } from '../../src/kv/index.js';
import { TimeoutError } from '../../src/node/index.js';
import { KvCluster } from './support.js';

/** A server that answers every request with `status`, `headers` and `body`. */
async function impostor(
  status: number,
  headers: Record<string, string>,
  body: string,
): Promise<{ url: string; close: () => void; requests: () => number }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    res.writeHead(status, headers);
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
    requests: () => requests,
  };
}

describe('answers that are not raftkit answers', () => {
  let cluster: KvCluster;
  let leader: string;
  let follower: string;
  before(async () => {
    cluster = await KvCluster.start(3);
    const index = await cluster.leader();
    leader = cluster.urls[index] as string;
    follower = cluster.urls[(index + 1) % 3] as string;
  });
  after(() => cluster.close());

  test('a web server answering 200 <html> to everything is a failed endpoint, alone or first', async () => {
    const html = await impostor(
      200,
      { 'content-type': 'text/html' },
      '<html>\n<body>hi</body>\n</html>\n',
    );
    const alone = new RaftkitClient({ endpoints: [html.url], timeoutMs: 800 });
    const first = new RaftkitClient({ endpoints: [html.url, leader] });
    try {
      await assert.rejects(alone.put('x', '1'), (e: unknown) => {
        // It is not a raftkit node, so nothing was applied: unavailable, not "outcome unknown".
        assert.ok(e instanceof UnavailableError && !(e instanceof TimeoutError), String(e));
        assert.match(e.message, /not a raftkit node: 200, text\/html, no raftkit-api header/);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      });
      await assert.rejects(alone.get('x'), UnavailableError);
      await assert.rejects(alone.status(), UnavailableError);
      assert.ok(html.requests() > 0);
      const { index } = await first.put('x', '1');
      assert.deepEqual(await first.get('x'), { key: 'x', value: '1', index });
    } finally {
      alone.close();
      first.close();
      html.close();
    }
  });

  test('JSON of the wrong shape, or without the raftkit header, is refused too', async () => {
    const plain = await impostor(200, { 'content-type': 'application/json' }, '{}');
    const damaged = await impostor(
      200,
      { 'content-type': 'application/json', 'raftkit-api': '1' },
      '{"index":"three"}',
    );
    const a = new RaftkitClient({ endpoints: [plain.url], timeoutMs: 600 });
    const b = new RaftkitClient({ endpoints: [damaged.url], timeoutMs: 600 });
    try {
      await assert.rejects(a.put('x', '2'), /not a raftkit node: 200, application\/json/);
      // Marked as raftkit's but damaged: the write may have been applied behind it.
      await assert.rejects(
        b.get('x'),
        /a damaged raftkit answer: 200, application\/json, a body without the fields/,
      );
    } finally {
      a.close();
      b.close();
      plain.close();
      damaged.close();
    }
  });

  test('an endpoint that answered as leader, then hangs, is given up within about a second', async () => {
    // Says it is the leader once, then takes requests and never answers: what a leader
    // paused with SIGSTOP looks like to a client that found it just before.
    let statuses = 0;
    const held: http.ServerResponse[] = [];
    const hung = http.createServer((req, res) => {
      req.resume();
      if (req.url === '/v1/status' && statuses++ === 0) {
        res.writeHead(200, { 'content-type': 'application/json', 'raftkit-api': '1' });
        res.end(JSON.stringify({ id: 'h', role: 'leader', term: 9, members: ['h'] }));
        return;
      }
      held.push(res);
    });
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const url = `127.0.0.1:${(hung.address() as AddressInfo).port}`;
    // The other endpoint is a follower, so the hung one is the only leader discovery finds.
    const client = new RaftkitClient({ endpoints: [url, follower], timeoutMs: 10_000 });
    try {
      const started = performance.now();
      const { index } = await client.put('y', '1');
      const ms = performance.now() - started;
      // A probe after 300 ms, unanswered for 700 ms: the put moves on well before its deadline.
      assert.ok(ms < 2500, `${Math.round(ms)} ms`);
      assert.ok(held.length >= 2, 'the put and a probe reached the hung endpoint');
      assert.deepEqual(await client.get('y'), { key: 'y', value: '1', index });
    } finally {
      client.close();
      hung.closeAllConnections();
      hung.close();
    }
  });
});
