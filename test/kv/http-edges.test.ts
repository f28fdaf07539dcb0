/**
 * The HTTP API's rough edges, each found by an outside probe: a client that disconnects in
 * the middle of a body, HEAD, the `Allow` header and codes of 404 and 405, Node's own parser
 * errors, and invalid UTF-8 in a body. Every answer is JSON with a code and carries the
 * `raftkit-api` header, by which the client tells a raftkit node from another server.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { KvCluster, request } from './support.js';

interface Line {
  readonly level: string;
  readonly fields: object;
  readonly message: string;
}

/** A logger that keeps what it is given. */
function recordingLogger(lines: Line[]) {
  const at = (level: string) => (fields: object, message: string) => {
    lines.push({ level, fields, message });
  };
  return { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

/** Sends raw bytes on a new connection and returns all that comes back before it closes. */
function raw(address: string, bytes: string | Buffer, closeAfterMs?: number): Promise<string> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), host);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), closeAfterMs ?? 5000);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

describe('a node answering odd requests', () => {
  let cluster: KvCluster;
  let url: string;
  let address: string;
  const lines: Line[] = [];

  before(async () => {
    cluster = await KvCluster.start(1, { logger: recordingLogger(lines) });
    await cluster.leader();
    address = cluster.http[0] as string;
    url = `http://${address}`;
  });
  after(() => cluster.close());

  test('a client gone mid-body is counted as aborted, logged at debug, never as a 500', async () => {
    const head = `PUT /v1/kv/k HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n`;
    const got = await raw(address, `${head}{"value":"par`, 200);
    assert.equal(got, '', 'nothing is answered to a client that left');
    const metrics = (await request(`${url}/metrics`)).text;
    assert.match(metrics, /raftkit_requests_total\{op="put",status="aborted"\} 1/);
    assert.doesNotMatch(metrics, /status="500"/);
    assert.deepEqual(
      lines.filter((l) => l.level === 'error'),
      [],
      'no error was logged',
    );
    assert.ok(lines.some((l) => l.level === 'debug' && l.message === 'request aborted'));
  });

  test('HEAD is answered like GET without the body; 405 says which methods are allowed', async () => {
    await request(`${url}/v1/kv/h`, 'PUT', '{"value":"v"}');
    const get = await request(`${url}/v1/kv/h`);
    const head = await request(`${url}/v1/kv/h`, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(head.headers.get('content-length'), get.headers.get('content-length'));
    assert.equal((await request(`${url}/v1/kv/absent`, 'HEAD')).status, 404);
    assert.equal((await request(`${url}/v1/status`, 'HEAD')).status, 200);
    const cases: [string, string, string][] = [
      ['POST', '/v1/kv/h', 'GET, HEAD, PUT, DELETE'],
      ['HEAD', '/v1/kv/h/cas', 'POST'],
      ['PUT', '/v1/status', 'GET, HEAD'],
      ['GET', '/v1/sessions', 'POST'],
    ];
    for (const [method, path, allow] of cases) {
      const r = await request(`${url}${path}`, method, method === 'POST' ? '{}' : undefined);
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.get('allow'), allow, `${method} ${path}`);
      if (method !== 'HEAD') assert.equal(r.body.code, 'method-not-allowed');
    }
  });

  test('404 and 405 have their own codes; a missing key keeps not-found', async () => {
    const route = await request(`${url}/v2/kv/x`);
    assert.deepEqual([route.status, route.body.code], [404, 'no-such-route']);
    const key = await request(`${url}/v1/kv/absent`);
    assert.deepEqual([key.status, key.body.code], [404, 'not-found']);
    const big = await request(
      `${url}/v1/kv/k`,
      'PUT',
      JSON.stringify({ value: 'x'.repeat(2 ** 20 + 1) }),
    );
    assert.deepEqual([big.status, big.body.code], [413, 'too-large']);
    for (const r of [route, key, big]) assert.equal(r.headers.get('raftkit-api'), '1');
  });

  test('membership routes: bad bodies and routes refused as JSON, refusals typed; nothing changes', async () => {
    const before = await request(`${url}/v1/members`);
    assert.equal(before.status, 200);
    assert.equal((before.body.voters as unknown[]).length, 1);
    const cases: [string, string, string | undefined, number, string][] = [
      ['POST', '/v1/members', 'not json', 400, 'bad-request'],
      ['POST', '/v1/members', JSON.stringify({ id: 'x' }), 400, 'bad-request'],
      ['POST', '/v1/members', JSON.stringify({ id: 'x', address: 'nowhere' }), 400, 'bad-request'],
      ['POST', '/v1/members', JSON.stringify({ id: '', address: 'h:1' }), 400, 'bad-request'],
      [
        'POST',
        '/v1/members',
        JSON.stringify({ id: 'x', address: 'h:1', extra: 1 }),
        400,
        'bad-request',
      ],
      ['PUT', '/v1/members', '{}', 405, 'method-not-allowed'],
      ['GET', '/v1/members/x/promote', undefined, 405, 'method-not-allowed'],
      ['POST', '/v1/members/x/demote', undefined, 404, 'no-such-route'],
      ['DELETE', '/v1/members/nobody', undefined, 409, 'unknown-member'],
      ['POST', '/v1/members/nobody/promote', undefined, 409, 'not-caught-up'],
      ['POST', '/v1/leader', JSON.stringify({ to: 'nobody' }), 409, 'transfer-rejected'],
      ['POST', '/v1/leader', JSON.stringify({ to: 3 }), 400, 'bad-request'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await request(`${url}${path}`, method, body);
      assert.deepEqual([r.status, r.body.code], [status, code], `${method} ${path} ${body}`);
      assert.equal(r.headers.get('raftkit-api'), '1');
    }
    const alone = cluster.nodes[0]?.node.status().members ?? [];
    const sole = await request(
      `${url}/v1/members/${encodeURIComponent(alone[0] as string)}`,
      'DELETE',
    );
    assert.deepEqual([sole.status, sole.body.code], [409, 'no-voter-left']);
    const after = await request(`${url}/v1/members`);
    assert.deepEqual(after.body, before.body, 'nothing changed');
  });

  test("Node's parser errors come back as the JSON error shape", async () => {
    for (const [bytes, status] of [
      ['GARBAGE\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nbad header line\r\n\r\n', 400],
      [`GET /v1/status HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ] as const) {
      const got = await raw(address, bytes);
      const [head, body] = got.split('\r\n\r\n') as [string, string];
      assert.match(head, new RegExp(`^HTTP/1.1 ${status} `), JSON.stringify(got.slice(0, 60)));
      assert.match(head, /content-type: application\/json/);
      const parsed = JSON.parse(body) as { error: string; code: string };
      assert.equal(parsed.code, 'bad-request');
      assert.match(parsed.error, /^malformed HTTP request \(HPE_/);
    }
  });

  test('invalid UTF-8 in a body is refused with 400, and nothing is stored', async () => {
    const before = (await request(`${url}/v1/status`)).body.lastIndex;
    const body = Buffer.concat([
      Buffer.from('{"value":"a'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const res = await fetch(`${url}/v1/kv/u`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      error: 'the body is not valid UTF-8',
      code: 'bad-request',
    });
    assert.equal((await request(`${url}/v1/kv/u`)).status, 404);
    assert.equal((await request(`${url}/v1/status`)).body.lastIndex, before);
  });
});
