/**
 * Snapshot files: written as a stream of chunks, made durable atomically, read back chunk by
 * chunk with every byte checked. A power cut before `commit()` leaves no snapshot under its
 * name; a flipped byte anywhere is refused with the file and the offset, never handed out.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type SnapshotMeta, seededRandom } from '../../src/core/index.js';
import {
  CorruptionError,
  type FileSystem,
  MemoryFileSystem,
  NodeFileSystem,
} from '../../src/storage/index.js';
import {
  parseSnapshotFileName,
  SnapshotReader,
  SnapshotWriter,
  snapshotFileBytes,
  snapshotFileName,
} from '../../src/storage/snapshot-file.js';

const meta: SnapshotMeta = {
  index: 12_345,
  term: 7,
  membership: { voters: ['a', 'b', 'c'], learners: ['d'] },
};

function chunkOf(size: number, seed: number): Uint8Array {
  const r = seededRandom(seed);
  return Uint8Array.from({ length: size }, () => r.int(256));
}

async function collect(reader: SnapshotReader): Promise<{ bytes: Buffer; info: unknown }> {
  const parts: Uint8Array[] = [];
  const chunks = reader.chunks();
  for (;;) {
    const next = await chunks.next();
    if (next.done === true) return { bytes: Buffer.concat(parts), info: next.value };
    parts.push(next.value);
  }
}

const disks: [string, () => { fs: FileSystem; dir: string; cleanup: () => void }][] = [
  ['memory disk', () => ({ fs: new MemoryFileSystem(), dir: '/node', cleanup: () => {} })],
  [
    'real disk',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'raftkit-snapfile-'));
      return { fs: new NodeFileSystem(), dir, cleanup: () => rmSync(dir, { recursive: true }) };
    },
  ],
];

for (const [name, make] of disks) {
  describe(`snapshot files on a ${name}`, () => {
    test('chunks written are read back identically, with the metadata', async () => {
      const { fs, dir, cleanup } = make();
      try {
        await fs.mkdir(dir);
        const w = await SnapshotWriter.create(fs, dir, meta);
        const parts = [chunkOf(10, 1), chunkOf(70_000, 2), new Uint8Array(0), chunkOf(1, 3)];
        for (const p of parts) await w.write(p);
        const info = await w.commit();
        assert.deepEqual(info, { meta, file: snapshotFileName(meta), bytes: 70_011 });
        const reader = new SnapshotReader(fs, dir, info.file);
        assert.deepEqual(await reader.meta(), meta);
        const back = await collect(reader);
        assert.deepEqual(back.bytes, Buffer.concat(parts));
        assert.deepEqual(back.info, info);
        assert.equal(parseSnapshotFileName(info.file.split('/')[1] as string), meta.index);
        // No temporary file is left behind.
        assert.deepEqual(await fs.list(`${dir}/state_machine`), [info.file.split('/')[1]]);
      } finally {
        cleanup();
      }
    });

    test('an aborted snapshot leaves nothing', async () => {
      const { fs, dir, cleanup } = make();
      try {
        await fs.mkdir(dir);
        const w = await SnapshotWriter.create(fs, dir, meta);
        await w.write(chunkOf(100, 4));
        await w.abort();
        assert.deepEqual(await fs.list(`${dir}/state_machine`), []);
      } finally {
        cleanup();
      }
    });
  });
}

test('a power cut before commit leaves no snapshot under its name; after, the whole one', async () => {
  for (let seed = 0; seed < 50; seed++) {
    const fs = new MemoryFileSystem();
    await fs.mkdir('/n');
    const w = await SnapshotWriter.create(fs, '/n', meta);
    await w.write(chunkOf(5000, seed));
    const committed = seed % 2 === 0;
    if (committed) await w.commit();
    fs.crash(seededRandom(seed));
    const names = (await fs.list('/n/state_machine')) ?? [];
    const named = names.filter((n) => parseSnapshotFileName(n) !== undefined);
    if (!committed) {
      assert.deepEqual(named, [], `seed ${seed}: a snapshot that never committed is there`);
      continue;
    }
    assert.equal(named.length, 1, `seed ${seed}`);
    const back = await collect(new SnapshotReader(fs, '/n', `state_machine/${named[0]}`));
    assert.deepEqual(back.bytes, Buffer.from(chunkOf(5000, seed)));
  }
});

test('every flipped byte and every cut is refused with the file and offset', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/n');
  const w = await SnapshotWriter.create(fs, '/n', meta);
  for (let i = 0; i < 3; i++) await w.write(chunkOf(40, 10 + i));
  const { file } = await w.commit();
  const pristine = (await fs.readFile(`/n/${file}`)) as Uint8Array;
  const damaged = async (bytes: Uint8Array) => {
    const h = await fs.open(`/n/${file}`, 'create');
    await h.write(bytes, 0);
    await h.sync();
    return collect(new SnapshotReader(fs, '/n', file));
  };
  for (let at = 0; at < pristine.length; at++) {
    const bytes = pristine.slice();
    bytes[at] = (bytes[at] as number) ^ 0x5a;
    await assert.rejects(damaged(bytes), (e: unknown) => {
      assert.ok(e instanceof CorruptionError, `byte ${at}: ${String(e)}`);
      assert.equal(e.file, file);
      return true;
    });
  }
  for (const cut of [0, 10, 30, pristine.length - 1]) {
    await assert.rejects(damaged(pristine.slice(0, cut)), CorruptionError);
  }
  await assert.rejects(damaged(Buffer.concat([pristine, Buffer.from([0])])), /bytes follow/);
});

test('snapshotFileBytes streams what SnapshotWriter writes, byte for byte (a backup is a snapshot file)', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/n');
  const chunks = [chunkOf(1000, 1), new Uint8Array(0), chunkOf(3, 2), chunkOf(70_000, 3)];
  const w = await SnapshotWriter.create(fs, '/n', meta);
  for (const c of chunks) await w.write(c);
  const { file } = await w.commit();
  const written = Buffer.from((await fs.readFile(`/n/${file}`)) as Uint8Array);
  const streamed: Uint8Array[] = [];
  for await (const piece of snapshotFileBytes(
    meta,
    (async function* () {
      yield* chunks;
    })(),
  )) {
    streamed.push(piece);
  }
  assert.deepEqual(Buffer.concat(streamed), written);
  await assert.rejects(async () => {
    for await (const _ of snapshotFileBytes({ ...meta, index: -1 }, (async function* () {})())) {
      // nothing
    }
  }, TypeError);
});
