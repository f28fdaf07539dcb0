/**
 * Members' HTTP URLs in the key-value state: the `advertise` command (checked as strictly as
 * the others), kept in snapshots (and a snapshot from before them read as before), and
 * published by every node of a running cluster.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeKvCommand, encodeKvCommand } from '../../src/kv/commands.js';
import { KvSnapshotError } from '../../src/kv/kv-snapshot.js';
import { KvStore } from '../../src/kv/kv-store.js';
import { InvalidCommandError } from '../../src/node/index.js';
import { eventually } from '../support/ports.js';
import { KvCluster } from './support.js';

const text = new TextEncoder();

async function bytesOf(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts).toString();
}

function once(s: string): AsyncIterable<Uint8Array> {
  return (async function* () {
    yield text.encode(s);
  })();
}

test('advertise: applied into the URLs by id, the last one standing', () => {
  const store = new KvStore();
  const a = encodeKvCommand({ op: 'advertise', id: 'a', url: 'http://10.0.0.1:9000' });
  assert.deepEqual(store.apply(a, 1, 0), { index: 1 });
  store.apply(encodeKvCommand({ op: 'advertise', id: 'a', url: 'https://a.example:443' }), 2, 0);
  store.apply(encodeKvCommand({ op: 'advertise', id: 'b', url: 'http://[::1]:9001' }), 3, 0);
  assert.deepEqual(Object.fromEntries(store.urls), {
    a: 'https://a.example:443',
    b: 'http://[::1]:9001',
  });
  // No key is written: the keyspace is the users'.
  assert.equal(store.size, 0);
});

test('advertise: anything but an id and an http(s) origin is refused, identically', () => {
  const bad: unknown[] = [
    { op: 'advertise', id: 'a' },
    { op: 'advertise', url: 'http://x:1' },
    { op: 'advertise', id: 5, url: 'http://x:1' },
    { op: 'advertise', id: 'a', url: 'ftp://x:1' },
    { op: 'advertise', id: 'a', url: 'http://x:1/path' },
    { op: 'advertise', id: 'a', url: 'http://x y:1' },
    { op: 'advertise', id: 'a', url: `http://${'x'.repeat(3000)}:1` },
    { op: 'advertise', id: 'a', url: 'http://x:1', extra: true },
    { op: 'advertise', id: 'a', url: 'http://x:1', session: { client: 1, seq: 1, ack: 1 } },
  ];
  for (const b of bad) {
    assert.throws(
      () => decodeKvCommand(text.encode(JSON.stringify(b)), 7),
      InvalidCommandError,
      JSON.stringify(b).slice(0, 80),
    );
  }
});

test('snapshots carry the URLs; one without them (older) restores with none; bad ones are refused', async () => {
  const source = new KvStore();
  source.apply(encodeKvCommand({ op: 'put', key: 'k', value: 'v' }), 1, 0);
  source.apply(encodeKvCommand({ op: 'advertise', id: 'n1', url: 'http://127.0.0.1:9000' }), 2, 0);
  const snapshot = await bytesOf(source.takeSnapshot());
  const copy = new KvStore();
  await copy.restoreSnapshot(once(snapshot));
  assert.deepEqual(Object.fromEntries(copy.urls), { n1: 'http://127.0.0.1:9000' });
  assert.equal(copy.get('k')?.value, 'v');

  // As written before members advertised: no urls field at all.
  const older = snapshot.replace(/,"urls":\{[^}]*\}/, '');
  assert.doesNotMatch(older, /urls/);
  const fromOlder = new KvStore();
  await fromOlder.restoreSnapshot(once(older));
  assert.equal(fromOlder.urls.size, 0);
  assert.equal(fromOlder.get('k')?.value, 'v');

  for (const urls of ['[1]', '{"n1":5}', 'null', '"x"']) {
    const bad = snapshot.replace(/"urls":\{[^}]*\}/, `"urls":${urls}`);
    await assert.rejects(copy.restoreSnapshot(once(bad)), KvSnapshotError, urls);
  }
  // The refused ones changed nothing.
  assert.deepEqual(Object.fromEntries(copy.urls), { n1: 'http://127.0.0.1:9000' });
});

test('every node of a running cluster publishes its URL, and all learn all', async () => {
  const cluster = await KvCluster.start(3);
  try {
    await cluster.leader();
    const expected = Object.fromEntries(cluster.raft.map((id, i) => [id, cluster.urls[i]]));
    await eventually(
      () => cluster.nodes.every((n) => sameUrls(n?.store.urls, expected)),
      'every URL on every node',
      10_000,
    );
  } finally {
    await cluster.close();
  }
});

function sameUrls(
  urls: ReadonlyMap<string, string> | undefined,
  expected: Record<string, string | undefined>,
): boolean {
  if (urls === undefined || urls.size !== Object.keys(expected).length) return false;
  return Object.entries(expected).every(([id, url]) => urls.get(id) === url);
}
