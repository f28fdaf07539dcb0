/**
 * Certificates written by `certificates.ts` (DER by hand), checked by Node's X509 parser and by
 * OpenSSL in real handshakes: chains to their CA, names in subjectAltName (DNS, IPv4, IPv6),
 * usages, validity past 2049 (GeneralizedTime), and the refusals.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { newCertificate, newCertificateAuthority } from '../../src/transport/index.js';

test('a CA and a leaf that chains to it, with its names and usages', () => {
  const ca = newCertificateAuthority({ commonName: 'test CA' });
  const leaf = newCertificate(ca, {
    commonName: 'n1',
    names: ['node-1.example', '10.1.2.3', '::1', 'fe80::1:2'],
    usage: 'server',
  });
  const caCert = new X509Certificate(ca.cert);
  const x = new X509Certificate(leaf.cert);
  assert.ok(caCert.ca && !x.ca);
  assert.ok(x.checkIssued(caCert) && x.verify(caCert.publicKey));
  assert.equal(x.subject, 'O=raftkit\nCN=n1');
  assert.equal(x.issuer, 'O=raftkit\nCN=test CA');
  assert.equal(
    x.subjectAltName,
    'DNS:node-1.example, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1, IP Address:FE80:0:0:0:0:0:1:2',
  );
  assert.equal(x.checkIP('10.1.2.3'), '10.1.2.3');
  assert.equal(x.checkHost('node-1.example'), 'node-1.example');
  assert.equal(x.checkHost('other.example'), undefined);
  assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  const days = (Date.parse(x.validTo) - Date.now()) / 86_400_000;
  assert.ok(days > 364 && days <= 365, `${days} days`);
});

test('a validity past 2049 is written as GeneralizedTime and read back', () => {
  const ca = newCertificateAuthority({ days: 36_500 });
  const year = new Date(new X509Certificate(ca.cert).validTo).getUTCFullYear();
  assert.ok(year > 2100, String(year));
});

test('refusals: a non-CA as issuer, a key that is not the CA certificate’s, a bad name, bad days', () => {
  const ca = newCertificateAuthority();
  const other = newCertificateAuthority();
  const leaf = newCertificate(ca, { commonName: 'x', usage: 'client' });
  assert.throws(
    () => newCertificate(leaf, { commonName: 'y', usage: 'client' }),
    /not one of a certificate authority/,
  );
  assert.throws(
    () => newCertificate({ cert: ca.cert, key: other.key }, { commonName: 'y', usage: 'client' }),
    /not the CA certificate's/,
  );
  assert.throws(
    () => newCertificate(ca, { commonName: 'y', names: ['a b'], usage: 'server' }),
    /neither a host name/,
  );
  assert.throws(() => newCertificate(ca, { commonName: 'y', usage: 'server', days: 0 }), /days/);
});

test('a mutual TLS handshake with two leaves of one CA; a leaf of another CA is refused', async () => {
  const ca = newCertificateAuthority();
  const other = newCertificateAuthority();
  const server = newCertificate(ca, { commonName: 's', names: ['127.0.0.1'], usage: 'both' });
  const client = newCertificate(ca, { commonName: 'c', usage: 'client' });
  const stranger = newCertificate(other, { commonName: 'c', usage: 'client' });
  const srv = tls.createServer(
    {
      cert: server.cert,
      key: server.key,
      ca: ca.cert,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (s) => s.end('hello'),
  );
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  const dial = (pair: { cert: string; key: string }) =>
    new Promise<string>((resolve) => {
      let got = '';
      const s = tls.connect({ host: '127.0.0.1', port, ca: ca.cert, ...pair });
      s.on('data', (d) => {
        got += d;
      });
      s.once('error', (e) => resolve(`error: ${e.message}`));
      s.once('close', () => resolve(got === '' ? 'closed' : got));
    });
  try {
    assert.equal(await dial(client), 'hello');
    assert.notEqual(await dial(stranger), 'hello');
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
  }
});
