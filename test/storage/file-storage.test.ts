/**
 * The storage's contract, run on both disks it works on (the real one and the memory one):
 * what is saved is read back identically, after reopening too; overwrites, segments, the read
 * cache, limits, locking, and the refusals.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import {
  AssertionError,
  type Entry,
  encodeConfig,
  InvalidConfigError,
  MemoryStorage,
  membership,
} from '../../src/core/index.js';
import {
  FileStorage,
  type FlushReport,
  MemoryFileSystem,
  NotADataDirError,
  StorageFailedError,
  StorageLockedError,
} from '../../src/storage/index.js';
import { allEntries, type Disk, entries, entry, memoryDisk, plain, realDisk } from './support.js';

for (const makeDisk of [realDisk, memoryDisk]) {
  describe(`storage on a ${makeDisk().name}`, () => {
    let disk: Disk;
    const fresh = (): Disk => {
      disk = makeDisk();
      return disk;
    };
    afterEach(() => disk.cleanup());

    test('a new directory holds an empty log and an empty hard state', async () => {
      const d = fresh();
      const s = await d.open();
      assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(0), s.term(1)], [1, 0, 0, undefined]);
      assert.deepEqual(s.hardState(), { term: 0, vote: null, commit: 0 });
      assert.deepEqual(allEntries(s), []);
      await s.close();
      const identity = await d.fs.readFile(`${d.dir}/raftkit.json`);
      assert.match(new TextDecoder().decode(identity), /"format": "raftkit data directory"/);
      // The hard state file exists from the start: its absence later is damage.
      const hard = await d.fs.readFile(`${d.dir}/hard-state.json`);
      assert.match(new TextDecoder().decode(hard), /"term":0,"vote":null/);
    });

    test('configuration entries are listed, through overwrites and reopening', async () => {
      const d = fresh();
      const s = await d.open();
      const config = (index: number, term: number): Entry => ({
        index,
        term,
        kind: 'config',
        data: encodeConfig(membership({ voters: ['a', 'b', `n${index}`] })),
      });
      const log = [...entries(1, 4, 1), config(5, 1), ...entries(6, 9, 1), config(10, 1)];
      await s.save({ entries: log, hardState: { term: 1, vote: null, commit: 5 }, sync: true });
      assert.deepEqual(s.configIndexes(), [5, 10]);
      // A new leader's entries cut the second one away and bring another.
      await s.save({ entries: [entry(8, 2), config(9, 2)], hardState: null, sync: true });
      assert.deepEqual(s.configIndexes(), [5, 9]);
      await s.close();
      const reopened = await d.open();
      assert.deepEqual(reopened.configIndexes(), [5, 9]);
      assert.deepEqual(plain(allEntries(reopened).slice(8, 9)), plain([config(9, 2)]));
      await reopened.close();
    });

    test('a vote with no entry of its term is not forgotten when hard-state.json is deleted', async () => {
      const d = fresh();
      const s = await d.open();
      await s.save({ entries: [], hardState: { term: 3, vote: 'b', commit: 0 }, sync: true });
      await s.close();
      await d.fs.remove(`${d.dir}/hard-state.json`);
      await assert.rejects(d.open(), /hard-state.json at offset 0: the file is missing/);
    });

    test('what is saved is read back identically, before and after reopening', async () => {
      const d = fresh();
      const s = await d.open();
      const written = [...entries(1, 50, 1, 10), ...entries(51, 120, 2, 300)];
      await s.save({ entries: [], hardState: { term: 1, vote: 'b', commit: 0 }, sync: true });
      await s.save({ entries: written.slice(0, 50), hardState: null, sync: true });
      await s.save({
        entries: written.slice(50),
        hardState: { term: 2, vote: null, commit: 77 },
        sync: true,
      });
      assert.deepEqual(plain(allEntries(s)), plain(written));
      assert.equal(s.durableIndex(), 120);
      await s.close();
      const again = await d.open();
      assert.deepEqual(plain(allEntries(again)), plain(written));
      assert.deepEqual(again.hardState(), { term: 2, vote: null, commit: 77 });
      assert.deepEqual([again.term(50), again.term(51), again.term(120)], [1, 2, 2]);
      await again.close();
    });

    test('an overwritten suffix is gone, after reopening too', async () => {
      const d = fresh();
      const s = await d.open();
      await s.save({
        entries: entries(1, 10, 1),
        hardState: { term: 2, vote: 'a', commit: 3 },
        sync: true,
      });
      await s.save({ entries: entries(6, 8, 2), hardState: null, sync: true });
      const expected = [...entries(1, 5, 1), ...entries(6, 8, 2)];
      assert.deepEqual(plain(allEntries(s)), plain(expected));
      await s.save({ entries: entries(9, 9, 2), hardState: null, sync: true });
      expected.push(entry(9, 2));
      await s.close();
      const again = await d.open();
      assert.deepEqual(plain(allEntries(again)), plain(expected));
      await again.close();
    });

    test('many segments, entries read back from disk once out of the cache', async () => {
      const d = fresh();
      const s = await d.open({ maxSegmentBytes: 2048, cacheBytes: 0 });
      const written = entries(1, 400, 1, 40);
      for (let i = 0; i < 400; i += 25) {
        await s.save({ entries: written.slice(i, i + 25), hardState: null, sync: i % 50 === 0 });
      }
      await s.save({ entries: entries(390, 395, 2), hardState: null, sync: true });
      const expected = [...written.slice(0, 389), ...entries(390, 395, 2)];
      assert.ok(s.log.segmentCount() > 10, `${s.log.segmentCount()} segments`);
      assert.deepEqual(plain(allEntries(s)), plain(expected));
      await s.close();
      const again = await d.open({ maxSegmentBytes: 2048, cacheBytes: 0 });
      assert.deepEqual(plain(allEntries(again)), plain(expected));
      assert.deepEqual(plain(again.entries(100, 103, 1e9)), plain(expected.slice(99, 102)));
      await again.close();
    });

    test('entries() honours maxBytes exactly as the core memory storage does', async () => {
      const d = fresh();
      const s = await d.open({ cacheBytes: 0 });
      const written = [...entries(1, 30, 1), ...entries(31, 60, 1, 500)];
      await s.save({ entries: written, hardState: null, sync: true });
      const reference = new MemoryStorage({ entries: written });
      for (const [low, high, max] of [
        [1, 61, 0],
        [1, 61, 100],
        [5, 40, 1000],
        [31, 61, 1100],
        [10, 10, 5],
        [1, 61, 1e9],
      ] as const) {
        const got = s.entries(low, high, max);
        assert.deepEqual(
          plain(got),
          plain(reference.entries(low, high, max)),
          `${low} ${high} ${max}`,
        );
      }
      await s.close();
    });

    test('saves made together share a write and resolve in order, all durable', async () => {
      const d = fresh();
      const s = await d.open();
      const done: number[] = [];
      const saves = [];
      for (let i = 1; i <= 200; i++) {
        saves.push(
          s.save({ entries: [entry(i, 1)], hardState: null, sync: true }).then(() => done.push(i)),
        );
      }
      await Promise.all(saves);
      assert.deepEqual(
        done,
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      assert.equal(s.durableIndex(), 200);
      await s.close();
      const again = await d.open();
      assert.deepEqual(plain(allEntries(again)), plain(entries(1, 200, 1)));
      await again.close();
    });

    test('entries of a term the hard state file lacks raise the term, with no vote', async () => {
      const d = fresh();
      const s = await d.open();
      await s.save({ entries: [], hardState: { term: 2, vote: 'a', commit: 0 }, sync: true });
      await s.save({ entries: entries(1, 3, 3), hardState: null, sync: true });
      await s.close();
      const again = await d.open();
      assert.deepEqual(again.hardState(), { term: 3, vote: null, commit: 0 });
      await again.close();
    });

    test('a directory in use is refused, and free again once closed', async () => {
      const d = fresh();
      const s = await d.open();
      await assert.rejects(d.open(), StorageLockedError);
      await s.close();
      const again = await d.open();
      await again.close();
    });

    test('a directory of another node, or of something else, is refused', async () => {
      const d = fresh();
      const s = await d.open({ id: 'node-a' });
      await s.close();
      await assert.rejects(d.open({ id: 'node-b' }), /belongs to node node-a, not node-b/);
      await d.fs.rename(`${d.dir}/raftkit.json`, `${d.dir}/other.json`);
      await assert.rejects(d.open(), NotADataDirError);
      await assert.rejects(d.open({ readOnly: true }), /has no raftkit.json/);
    });

    test('read-only: no lock, no writes', async () => {
      const d = fresh();
      const s = await d.open();
      await s.save({ entries: entries(1, 3, 1), hardState: null, sync: true });
      const reader = await d.open({ readOnly: true });
      assert.equal(reader.lastIndex(), 3);
      assert.throws(
        () => reader.save({ entries: entries(4, 4, 1), hardState: null, sync: true }),
        AssertionError,
      );
      await reader.close();
      await s.close();
    });

    test('contract breaches are assertions, not silent damage', async () => {
      const d = fresh();
      const s = await d.open();
      await s.save({
        entries: entries(1, 5, 2),
        hardState: { term: 2, vote: null, commit: 4 },
        sync: true,
      });
      const breaches = [
        entries(7, 7, 2), // a gap
        entries(6, 6, 1), // a term going back
        [entry(6, 2), entry(8, 2)], // not consecutive
        entries(4, 4, 2), // overwriting a committed entry
      ];
      for (const list of breaches) {
        assert.throws(() => s.save({ entries: list, hardState: null, sync: true }), AssertionError);
      }
      assert.deepEqual(plain(allEntries(s)), plain(entries(1, 5, 2)));
      await s.close();
    });
  });
}

describe('storage specifics', () => {
  test("on the real disk the log's appends are written on the calling thread, where they land", async () => {
    const disk = realDisk();
    try {
      const beside = join(disk.dir, '..', 'raw');
      await disk.fs.mkdir(beside);
      const handle = await disk.fs.open(join(beside, 'f'), 'create');
      assert.equal(typeof handle.writeNow, 'function');
      handle.writeNow?.(new Uint8Array([1, 2, 3]), 0);
      handle.writeNow?.(new Uint8Array([9]), 1);
      assert.deepEqual([...handle.readSync(0, 3)], [1, 9, 3]);
      await handle.close();
      // And a log written that way reads back whole after a reopen.
      const s = await disk.open();
      await s.save({ entries: entries(1, 50, 1), hardState: null, sync: true });
      await s.close();
      const again = await disk.open();
      assert.equal(again.lastIndex(), 50);
      await again.close();
    } finally {
      disk.cleanup();
    }
  });

  test('group commit: 200 concurrent saves take two fsyncs', async () => {
    const fs = new MemoryFileSystem({ latency: () => new Promise((r) => setImmediate(r)) });
    const flushes: FlushReport[] = [];
    const s = await FileStorage.open('/d', {
      fs,
      onFlush: (f) => {
        flushes.push(f);
        throw new Error('an observer that throws changes nothing');
      },
    });
    await s.save({ entries: [entry(1, 1)], hardState: null, sync: true }); // creates the segment
    const before = fs.counts.sync;
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        s.save({ entries: [entry(i + 2, 1)], hardState: null, sync: true }),
      ),
    );
    // The first save's fsync starts alone; the 199 queued behind it share the next one.
    assert.equal(fs.counts.sync - before, 2);
    // The flush hook saw the same three group commits, with the saves each served.
    assert.deepEqual(
      flushes.map((f) => [f.saves, f.synced]),
      [
        [1, true],
        [1, true],
        [199, true],
      ],
    );
    assert.ok(flushes.every((f) => f.durationMs >= 0));
    await s.close();
  });

  test('a save that needs no sync waits for no fsync', async () => {
    const fs = new MemoryFileSystem();
    const s = await FileStorage.open('/d', { fs });
    await s.save({ entries: entries(1, 3, 1), hardState: null, sync: true });
    const before = fs.counts.sync;
    await s.save({ entries: [], hardState: { term: 0, vote: null, commit: 2 }, sync: false });
    assert.equal(fs.counts.sync, before);
    await s.close();
  });

  test('unusable options are refused before anything is touched', async () => {
    const fs = new MemoryFileSystem();
    for (const options of [
      { maxSegmentBytes: 10 },
      { maxSegmentBytes: 2 ** 32 },
      { cacheBytes: -1 },
    ]) {
      await assert.rejects(FileStorage.open('/d', { fs, ...options }), InvalidConfigError);
    }
    assert.equal(await fs.list('/d'), undefined);
  });

  test('a failed fsync of the cluster identity is a storage failure too, typed, and later saves fail', async () => {
    const fs = new MemoryFileSystem();
    const s = await FileStorage.open('/d', { fs });
    fs.injectFault('sync', new Error('EIO: i/o error'), '/d/');
    await assert.rejects(s.bindCluster('c1'), (err) => {
      assert.ok(err instanceof StorageFailedError, String(err));
      assert.match((err as Error).message, /cluster identity to \/d failed: EIO/);
      return true;
    });
    await assert.rejects(
      s.save({ entries: entries(1, 1, 1), hardState: null, sync: true }),
      StorageFailedError,
    );
    await s.close();
  });

  test('a fault injected under one directory spares the others', async () => {
    const fs = new MemoryFileSystem();
    const a = await FileStorage.open('/a', { fs });
    const b = await FileStorage.open('/b', { fs });
    fs.injectFault('sync', new Error('EIO: i/o error'), '/b/');
    await a.save({ entries: entries(1, 1, 1), hardState: null, sync: true });
    await assert.rejects(
      b.save({ entries: entries(1, 1, 1), hardState: null, sync: true }),
      StorageFailedError,
    );
    await a.close();
    await b.close();
  });

  test('a failed fsync fails that save and every later one: no retry can be trusted', async () => {
    const fs = new MemoryFileSystem();
    const s = await FileStorage.open('/d', { fs });
    await s.save({ entries: entries(1, 3, 1), hardState: null, sync: true });
    fs.injectFault('sync', new Error('EIO: i/o error'));
    await assert.rejects(
      s.save({ entries: entries(4, 4, 1), hardState: null, sync: true }),
      (err) => {
        assert.ok(err instanceof StorageFailedError);
        assert.match(String((err as StorageFailedError).cause), /EIO/);
        // The message names the cause too: it is what the node's last log line shows.
        assert.match(
          (err as Error).message,
          /^storage failed: a write to \/d failed: EIO: i\/o error$/,
        );
        return true;
      },
    );
    await assert.rejects(
      s.save({ entries: entries(5, 5, 1), hardState: null, sync: true }),
      StorageFailedError,
    );
    await s.close();
  });

  test('a lock left by a dead process is taken over; one held by a live process is not', async () => {
    const disk = realDisk();
    try {
      const s = await disk.open();
      await s.close();
      writeFileSync(join(disk.dir, 'LOCK'), '999999999\n'); // no such process
      const again = await disk.open();
      await again.close();
      writeFileSync(join(disk.dir, 'LOCK'), '1\n'); // init: alive
      await assert.rejects(disk.open(), /process 1 holds/);
    } finally {
      disk.cleanup();
    }
  });

  test('a non-empty directory that is not a data directory is left alone', async () => {
    const disk = realDisk();
    try {
      mkdirSync(disk.dir, { recursive: true });
      writeFileSync(join(disk.dir, 'notes.txt'), 'mine\n');
      await assert.rejects(disk.open(), /is not a raftkit data directory: it has no raftkit.json/);
      writeFileSync(`${disk.dir}-file`, 'x');
      await assert.rejects(FileStorage.open(`${disk.dir}-file`), /it is a file/);
    } finally {
      disk.cleanup();
    }
  });
});
