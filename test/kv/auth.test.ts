/**
 * Bearer tokens and roles on the HTTP API: every route against every kind of token (none, an
 * unknown one, read, write, admin) gives the status its role allows, and a refused write
 * proposes nothing. Probes are open with `openProbes` and closed without.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Authenticator,
  AuthFileError,
  AuthRefusedError,
  newToken,
  parseAuthFile,
  RaftkitClient,
} from '../../src/kv/index.js';
import { KvCluster } from './support.js';

interface Tokens {
  read: string;
  write: string;
  admin: string;
}

async function makeTokens(): Promise<{ tokens: Tokens; auth: Authenticator; file: string }> {
  const made = await Promise.all((['read', 'write', 'admin'] as const).map((r) => newToken(r)));
  const file = JSON.stringify({
    tokens: made.map((m, i) => ({
      name: ['read', 'write', 'admin'][i],
      role: ['read', 'write', 'admin'][i],
      hash: m.hash,
    })),
  });
  const tokens = { read: made[0]?.token, write: made[1]?.token, admin: made[2]?.token } as Tokens;
  return { tokens, auth: new Authenticator(parseAuthFile(file, 'auth.json')), file };
}

/** A route, the body it is sent with, and the least role that may use it. */
interface RouteCase {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly needs: 'read' | 'write' | 'admin';
  /** The status once allowed (the route's own answer: success, or its own refusal). */
  readonly allowed: number;
}

const routes: readonly RouteCase[] = [
  { method: 'GET', path: '/v1/kv/absent', needs: 'read', allowed: 404 },
  { method: 'GET', path: '/v1/kv/absent?stale=true', needs: 'read', allowed: 404 },
  { method: 'GET', path: '/v1/status', needs: 'read', allowed: 200 },
  { method: 'GET', path: '/v1/members', needs: 'read', allowed: 200 },
  { method: 'GET', path: '/metrics', needs: 'read', allowed: 200 },
  { method: 'GET', path: '/healthz', needs: 'read', allowed: 200 },
  { method: 'GET', path: '/readyz', needs: 'read', allowed: 200 },
  { method: 'PUT', path: '/v1/kv/k', body: { value: 'v' }, needs: 'write', allowed: 200 },
  { method: 'DELETE', path: '/v1/kv/k', needs: 'write', allowed: 200 },
  {
    method: 'POST',
    path: '/v1/kv/k/cas',
    body: { expected: 'nope', value: 'w' },
    needs: 'write',
    allowed: 200,
  },
  { method: 'POST', path: '/v1/sessions', needs: 'write', allowed: 200 },
  // Admin routes, each refused by its own rule once allowed, so that the matrix changes nothing.
  {
    method: 'POST',
    path: '/v1/members',
    body: { id: 'x', address: 'bad address' },
    needs: 'admin',
    allowed: 400,
  },
  { method: 'POST', path: '/v1/members/nobody/promote', needs: 'admin', allowed: 409 },
  { method: 'DELETE', path: '/v1/members/nobody', needs: 'admin', allowed: 409 },
  { method: 'POST', path: '/v1/leader', body: { to: 'nobody' }, needs: 'admin', allowed: 409 },
  { method: 'GET', path: '/v1/snapshot', needs: 'admin', allowed: 200 },
  { method: 'GET', path: '/v1/test/clock', needs: 'admin', allowed: 404 },
  // The dashboard's data (this cluster serves no dashboard: 404 once allowed).
  { method: 'GET', path: '/v1/cluster', needs: 'read', allowed: 404 },
  { method: 'GET', path: '/v1/cluster/events', needs: 'read', allowed: 404 },
  { method: 'GET', path: '/v1/cluster/self', needs: 'read', allowed: 404 },
  { method: 'POST', path: '/v1/cluster/nodes/nobody/stop', needs: 'admin', allowed: 404 },
  { method: 'POST', path: '/v1/cluster/self/cut', needs: 'admin', allowed: 404 },
];

const rank = { read: 1, write: 2, admin: 3 } as const;

async function request(
  url: string,
  route: Pick<RouteCase, 'method' | 'path' | 'body'>,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown> | null; headers: Headers }> {
  const res = await fetch(`${url}${route.path}`, {
    method: route.method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(route.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  const body = type.startsWith('application/json') ? JSON.parse(text.toString()) : null;
  return { status: res.status, body, headers: res.headers };
}

describe('bearer tokens and roles', () => {
  let cluster: KvCluster;
  let open: KvCluster;
  let tokens: Tokens;
  let auth: Authenticator;
  let url: string;

  before(async () => {
    ({ tokens, auth } = await makeTokens());
    cluster = await KvCluster.start(1, { server: { auth } });
    open = await KvCluster.start(1, { server: { auth, openProbes: true } });
    url = cluster.urls[0] as string;
    const client = new RaftkitClient({ endpoints: cluster.urls, token: tokens.write });
    await client.put('warm', 'up');
    client.close();
  });
  after(async () => {
    await cluster?.close();
    await open?.close();
  });

  test('every route × token gives the status the role allows; refusals are JSON with a code', async () => {
    const given: Record<string, string | undefined> = {
      none: undefined,
      unknown: 'raftkit.admin.not-the-secret-at-all-not-the-secret-at-all00',
      garbage: 'abc',
      read: tokens.read,
      write: tokens.write,
      admin: tokens.admin,
    };
    const table: string[] = [];
    for (const route of routes) {
      for (const [who, token] of Object.entries(given)) {
        const r = await request(url, route, token);
        const held = who in rank ? rank[who as keyof typeof rank] : 0;
        const expected = held === 0 ? 401 : held < rank[route.needs] ? 403 : route.allowed;
        table.push(`${route.method} ${route.path} ${who} -> ${r.status}`);
        assert.equal(
          r.status,
          expected,
          `${route.method} ${route.path} with ${who}: ${JSON.stringify(r.body)}`,
        );
        if (expected === 401) {
          assert.equal(r.body?.code, who === 'none' ? 'unauthenticated' : 'invalid-token');
          assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="raftkit"/);
        }
        if (expected === 403) {
          assert.equal(r.body?.code, 'forbidden');
          assert.match(
            String(r.body?.error),
            new RegExp(`has the ${who} role; .* needs ${route.needs}`),
          );
        }
      }
    }
    assert.equal(table.length, routes.length * 6);
  });

  test('a refused write proposes nothing', async () => {
    const before = (await request(url, { method: 'GET', path: '/v1/status' }, tokens.read)).body;
    for (const token of [undefined, tokens.read, 'raftkit.write.wrong']) {
      const r = await request(
        url,
        { method: 'PUT', path: '/v1/kv/refused', body: { value: 'x' } },
        token,
      );
      assert.ok(r.status === 401 || r.status === 403);
    }
    const afterwards = (await request(url, { method: 'GET', path: '/v1/status' }, tokens.read))
      .body;
    assert.equal(afterwards?.lastIndex, before?.lastIndex);
    assert.equal(
      (await request(url, { method: 'GET', path: '/v1/kv/refused' }, tokens.read)).status,
      404,
    );
  });

  test('with openProbes, metrics and health need no token; the rest still does', async () => {
    const openUrl = open.urls[0] as string;
    for (const path of ['/metrics', '/healthz', '/readyz']) {
      assert.equal((await request(openUrl, { method: 'GET', path })).status, 200, path);
    }
    assert.equal((await request(openUrl, { method: 'GET', path: '/v1/status' })).status, 401);
  });

  test('the client sends its token; a missing or small one is an AuthRefusedError at once', async () => {
    const reader = new RaftkitClient({
      endpoints: cluster.urls,
      token: tokens.read,
      timeoutMs: 20_000,
    });
    const nobody = new RaftkitClient({ endpoints: cluster.urls, timeoutMs: 20_000 });
    try {
      assert.equal((await reader.get('warm'))?.value, 'up');
      const started = performance.now();
      await assert.rejects(reader.put('a', '1'), (e: unknown) => {
        assert.ok(e instanceof AuthRefusedError);
        assert.equal(e.status, 403);
        assert.equal(e.reason, 'forbidden');
        return true;
      });
      await assert.rejects(
        nobody.get('warm'),
        (e: unknown) => e instanceof AuthRefusedError && e.status === 401,
      );
      // Not retried until the deadline.
      assert.ok(performance.now() - started < 5000);
    } finally {
      reader.close();
      nobody.close();
    }
  });
});

describe('auth files', () => {
  test('a bad auth file is refused with what is wrong', async () => {
    const { hash } = await newToken('ops');
    const cases: [string, RegExp][] = [
      ['{', /not JSON/],
      ['{"tokens":[{"name":"ops","role":"root","hash":"x"}]}', /tokens\.0\.role/],
      [
        `{"tokens":[{"name":"ops","role":"admin","hash":"${hash}"},{"name":"ops","role":"read","hash":"${hash}"}]}`,
        /twice/,
      ],
      [
        `{"tokens":[{"name":"ops","role":"admin","hash":"${hash.replace('16384', '3')}"}]}`,
        /power of 2/,
      ],
      ['{"tokens":[{"name":"ops","role":"admin","hash":"sha1$abc"}]}', /scrypt/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseAuthFile(text, 'a.json'),
        (e: unknown) => {
          assert.ok(e instanceof AuthFileError);
          assert.match(e.message, /^auth file a\.json: /);
          assert.match(e.message, message);
          return true;
        },
      );
    }
  });

  test('the file holds no token: only its scrypt hash, and a token passes only against its own entry', async () => {
    const a = await newToken('a');
    const b = await newToken('b');
    assert.ok(!a.hash.includes(a.token.split('.')[2] as string));
    const auth = new Authenticator([
      { name: 'a', role: 'read', hash: a.hash },
      { name: 'b', role: 'admin', hash: b.hash },
    ]);
    assert.deepEqual(await auth.check(`Bearer ${a.token}`), { name: 'a', role: 'read' });
    assert.deepEqual(await auth.check(`bearer ${b.token}`), { name: 'b', role: 'admin' });
    // a's secret under b's name: not b.
    const swapped = `raftkit.b.${a.token.split('.')[2]}`;
    assert.equal(await auth.check(`Bearer ${swapped}`), 'invalid');
    assert.equal(await auth.check(`Basic ${a.token}`), 'missing');
    assert.equal(await auth.check(undefined), 'missing');
    assert.equal(await auth.check('Bearer raftkit.c.whatever'), 'invalid');
  });
});
