/**
 * Backup and restore through the command line, as an operator runs them: `raftkit snapshot
 * save` from a running cluster (auth on: it takes an admin token), `raftkit snapshot restore`
 * into three new directories, a new cluster started on them with other addresses holding the
 * same data and taking writes, under a new cluster identity. A damaged or cut backup is refused
 * with the offset and what was expected, and nothing is written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  Authenticator,
  type KvNode,
  newToken,
  parseAuthFile,
  RaftkitClient,
  startKvNode,
} from '../../src/kv/index.js';
import { KvCluster } from '../kv/support.js';
import { fastTiming } from '../node/support.js';
import { freePorts } from '../support/ports.js';
import { raftkit } from '../support/raftkit.js';

describe('raftkit snapshot save and restore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-backup-'));
  const backup = join(dir, 'backup.snap');
  let source: KvCluster;
  let admin: string;
  let writer: string;
  const expected = new Map<string, string>();
  /** Keys written while the save ran, acknowledged before it began. */
  const duringSave: string[] = [];
  let restored: KvNode[] = [];

  before(async () => {
    const a = await newToken('admin');
    const w = await newToken('writer');
    admin = a.token;
    writer = w.token;
    const file = JSON.stringify({
      tokens: [
        { name: 'admin', role: 'admin', hash: a.hash },
        { name: 'writer', role: 'write', hash: w.hash },
      ],
    });
    writeFileSync(join(dir, 'admin.token'), `${admin}\n`);
    writeFileSync(join(dir, 'writer.token'), writer);
    // Snapshots every 50 entries: the backup is taken from a log that was compacted already.
    source = await KvCluster.start(3, {
      server: { auth: new Authenticator(parseAuthFile(file, 'auth.json')) },
      snapshotEntries: 50,
      snapshotKeepEntries: 5,
    });
    const client = new RaftkitClient({ endpoints: source.urls, token: writer });
    for (let i = 0; i < 120; i++) {
      const key = `k${i % 40}`;
      const value = `v${i}`;
      await client.put(key, value);
      expected.set(key, value);
    }
    await client.delete('k3');
    expected.delete('k3');
    client.close();
  });
  after(async () => {
    await source?.close();
    await Promise.all(restored.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('save needs an admin token: a writer is refused, nothing is written', async () => {
    const r = await raftkit(
      ...['snapshot', 'save', backup, '--endpoints', source.urls.join(',')],
      ...['--token-file', join(dir, 'writer.token')],
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /403 .*has the write role; GET \/v1\/snapshot needs admin/);
    assert.ok(!existsSync(backup) && !existsSync(`${backup}.part`));
    const none = await raftkit('snapshot', 'save', backup, '--endpoints', source.urls.join(','));
    assert.equal(none.code, 1);
    assert.match(none.stderr, /401/);
  });

  test('save writes a checked backup of everything acknowledged, while writes go on', async () => {
    // Writes of new keys go on throughout; those acknowledged before the save began must be
    // in the backup (it is taken after a ReadIndex), the later ones may or may not.
    const client = new RaftkitClient({ endpoints: source.urls, token: writer });
    let stop = false;
    let n = 0;
    const acknowledged: { key: string; at: number }[] = [];
    const writing = (async () => {
      while (!stop && n < 5000) {
        const key = `during-${n++}`;
        await client.put(key, 'x');
        acknowledged.push({ key, at: performance.now() });
      }
    })();
    while (acknowledged.length < 20) await new Promise((r) => setTimeout(r, 10));
    const saveStarted = performance.now();
    const r = await raftkit(
      ...['snapshot', 'save', backup, '--endpoints', source.urls.join(',')],
      ...['--token-file', join(dir, 'admin.token')],
    );
    stop = true;
    await writing;
    client.close();
    for (const a of acknowledged) if (a.at < saveStarted) duringSave.push(a.key);
    assert.ok(duringSave.length >= 20);
    assert.equal(r.code, 0, r.stderr);
    const saved = JSON.parse(r.stdout) as { index: number; keys: number; voters: string[] };
    assert.ok(saved.index >= 121 + duringSave.length, `index ${saved.index}`);
    assert.ok(saved.keys >= expected.size + duringSave.length, `${saved.keys} keys`);
    assert.deepEqual([...saved.voters].sort(), [...source.raft].sort());
    // Refuses to replace it.
    const again = await raftkit(
      ...['snapshot', 'save', backup, '--endpoints', source.urls.join(',')],
      ...['--token-file', join(dir, 'admin.token')],
    );
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists already/);
  });

  test('restore → a new cluster on other addresses with the same data, taking writes', async () => {
    const ports = await freePorts(6);
    const raftAddrs = ports.slice(0, 3).map((p) => `127.0.0.1:${p}`);
    const httpAddrs = ports.slice(3).map((p) => `127.0.0.1:${p}`);
    for (const [i, address] of raftAddrs.entries()) {
      const r = await raftkit(
        ...['snapshot', 'restore', backup, '--data', join(dir, `new${i}`), '--id', address],
        ...['--peers', raftAddrs.join(',')],
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /start it with raftkit node/);
    }
    // Into a directory that is not empty: refused.
    const busy = await raftkit(
      ...[
        'snapshot',
        'restore',
        backup,
        '--data',
        join(dir, 'new0'),
        '--id',
        raftAddrs[0] as string,
      ],
    );
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /not empty/);
    restored = await Promise.all(
      raftAddrs.map((address, i) =>
        startKvNode({
          ...fastTiming,
          address,
          id: address,
          peers: raftAddrs,
          dataDir: join(dir, `new${i}`),
          http: httpAddrs[i] as string,
        }),
      ),
    );
    const client = new RaftkitClient({ endpoints: httpAddrs });
    try {
      for (const [key, value] of expected) assert.equal((await client.get(key))?.value, value, key);
      for (const key of duringSave) assert.equal((await client.get(key))?.value, 'x', key);
      assert.equal(await client.get('k3'), null);
      await client.put('after', 'restore');
      assert.equal((await client.get('after'))?.value, 'restore');
      const status = await client.status();
      assert.deepEqual([...status.members].sort(), [...raftAddrs].sort());
      const old = source.nodes[0]?.node.status().cluster;
      assert.ok(status.cluster !== null && status.cluster !== old, 'a new cluster identity');
    } finally {
      client.close();
    }
  });

  test('a damaged backup is refused with the offset and what was expected; nothing is written', async () => {
    const bytes = readFileSync(backup);
    const flipped = Buffer.from(bytes);
    const at = Math.floor(bytes.length / 2);
    flipped[at] = (flipped[at] as number) ^ 0xff;
    const cases: [string, Buffer, RegExp][] = [
      ['flipped.snap', flipped, /at offset \d+: chunk checksum mismatch/],
      [
        'cut.snap',
        bytes.subarray(0, bytes.length - 10),
        /at offset \d+: expected a chunk or the end record, the file ends/,
      ],
      ['empty.snap', Buffer.alloc(0), /at offset 0: expected a raftkit snapshot header/],
      [
        'other.snap',
        Buffer.from('{"not":"a backup"}\n'),
        /at offset 0: expected a raftkit snapshot header/,
      ],
    ];
    for (const [name, content, message] of cases) {
      const file = join(dir, name);
      writeFileSync(file, content);
      const target = join(dir, `from-${name}`);
      const r = await raftkit('snapshot', 'restore', file, '--data', target, '--id', 'n1');
      assert.equal(r.code, 1, name);
      assert.match(r.stderr, /^raftkit: corrupt data in /, name);
      assert.match(r.stderr, message, name);
      assert.ok(
        !existsSync(target) || readdirSync(target).length === 0,
        `${name}: nothing written`,
      );
    }
  });

  test('restore without --peers keeps the backup members, and refuses an id not among them', async () => {
    const r = await raftkit(
      'snapshot',
      'restore',
      backup,
      '--data',
      join(dir, 'x'),
      '--id',
      'stranger',
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /stranger is not one of the new cluster's voters/);
    assert.ok(!existsSync(join(dir, 'x')));
    const ok = await raftkit(
      'snapshot',
      'restore',
      backup,
      '--data',
      join(dir, 'y'),
      '--id',
      source.raft[1] as string,
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(
      [...(JSON.parse(ok.stdout) as { voters: string[] }).voters].sort(),
      [...source.raft].sort(),
    );
  });
});
