/**
 * HTTPS on the client API: a client that trusts the right CA and shows a certificate that CA
 * signed is served; one whose certificate another CA signed, or with none, is answered 401
 * `client-certificate` (nothing served); one that trusts another CA refuses the server at the
 * handshake. Each at once, as an AuthRefusedError, not retried until the deadline.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { AuthRefusedError, RaftkitClient } from '../../src/kv/index.js';
import { newCertificate, newCertificateAuthority } from '../../src/transport/index.js';
import { KvCluster } from './support.js';

describe('HTTPS with client certificates', () => {
  const ca = newCertificateAuthority({ commonName: 'right CA' });
  const other = newCertificateAuthority({ commonName: 'other CA' });
  const server = newCertificate(ca, { commonName: 'node', names: ['127.0.0.1'], usage: 'server' });
  const client = newCertificate(ca, { commonName: 'ops', usage: 'client' });
  const stranger = newCertificate(other, { commonName: 'ops', usage: 'client' });
  let cluster: KvCluster;

  before(async () => {
    cluster = await KvCluster.start(1, {
      server: { tls: { cert: server.cert, key: server.key, ca: ca.cert } },
    });
  });
  after(() => cluster?.close());

  const endpoints = () => cluster.http.map((a) => `https://${a}`);

  test('the server says https; the right CA and a client certificate it signed are served', async () => {
    assert.match(cluster.nodes[0]?.server?.url ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
    // Bare host:port endpoints mean HTTPS once TLS options are given.
    const c = new RaftkitClient({
      endpoints: cluster.http,
      tls: { ca: ca.cert, cert: client.cert, key: client.key },
    });
    try {
      await c.put('k', 'v');
      assert.equal((await c.get('k'))?.value, 'v');
      assert.equal((await c.status()).role, 'leader');
    } finally {
      c.close();
    }
  });

  const refused = async (
    options: ConstructorParameters<typeof RaftkitClient>[0],
    what: string,
    reason: string,
  ) => {
    const c = new RaftkitClient({ ...options, timeoutMs: 15_000 });
    const started = performance.now();
    try {
      await assert.rejects(c.get('k'), (e: unknown) => {
        assert.ok(e instanceof AuthRefusedError, `${what}: ${String(e)}`);
        assert.equal(e.reason, reason);
        return true;
      });
    } finally {
      c.close();
    }
    assert.ok(performance.now() - started < 5000, `${what}: refused at once, not retried`);
  };

  test('a client certificate of another CA is refused', () =>
    refused(
      { endpoints: endpoints(), tls: { ca: ca.cert, cert: stranger.cert, key: stranger.key } },
      'another CA',
      'client-certificate',
    ));

  test('no client certificate is refused', () =>
    refused(
      { endpoints: endpoints(), tls: { ca: ca.cert } },
      'no certificate',
      'client-certificate',
    ));

  test("a client that trusts another CA refuses the server's certificate", () =>
    refused(
      { endpoints: endpoints(), tls: { ca: other.cert, cert: client.cert, key: client.key } },
      'wrong trust',
      'tls',
    ));

  test('with openProbes, health and metrics need no client certificate; the rest still does', async () => {
    const open = await KvCluster.start(1, {
      server: { tls: { cert: server.cert, key: server.key, ca: ca.cert }, openProbes: true },
    });
    const get = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const [host, port] = (open.http[0] as string).split(':');
        https
          .get({ host, port, path, ca: ca.cert, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .once('error', reject);
      });
    try {
      assert.equal(await get('/healthz'), 200);
      assert.equal(await get('/metrics'), 200);
      assert.equal(await get('/v1/status'), 401);
      assert.equal(await get('/v1/kv/k'), 401);
    } finally {
      await open.close();
    }
  });

  test('plain HTTP to the HTTPS port gets no answer that counts', async () => {
    const c = new RaftkitClient({ endpoints: cluster.http, timeoutMs: 1500 });
    try {
      await assert.rejects(c.get('k'), /no node answered|not a raftkit node|socket hang up/);
    } finally {
      c.close();
    }
  });
});
