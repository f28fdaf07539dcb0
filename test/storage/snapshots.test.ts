/**
 * Snapshots in `FileStorage`: a snapshot written, the log compacted behind it (whole segments,
 * only below the snapshot), a received snapshot installed (the log restarts after it), and
 * recovery from each: the newest valid snapshot and the log after it; a damaged newest one
 * with an older one the log still reaches: the older one, said so; otherwise a refusal.
 * Power cuts at random moments of snapshotting, compacting and installing always recover to
 * a snapshot plus a log that continues it, with nothing acknowledged lost.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { type Entry, type SnapshotMeta, seededRandom } from '../../src/core/index.js';
import { CorruptionError, FileStorage, MemoryFileSystem } from '../../src/storage/index.js';
import { snapshotFileName } from '../../src/storage/snapshot-file.js';
import {
  allEntries,
  type Disk,
  entries,
  memoryDisk,
  plain,
  realDisk,
  recordingLogger,
} from './support.js';

const members = { voters: ['a', 'b', 'c'], learners: [] };
const meta = (index: number, term: number): SnapshotMeta => ({ index, term, membership: members });
const small = { maxSegmentBytes: 600, cacheBytes: 0 };

async function* chunksOf(text: string, pieces = 3): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const size = Math.ceil(bytes.length / pieces);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

let disk: Disk;

/** A storage holding entries 1..to of term 1, committed, in several small segments. */
async function withLog(to: number): Promise<FileStorage> {
  const s = await disk.open(small);
  await s.save({ entries: [], hardState: { term: 1, vote: 'a', commit: 0 }, sync: true });
  for (let i = 1; i <= to; i += 10) {
    await s.save({ entries: entries(i, Math.min(i + 9, to), 1), hardState: null, sync: true });
  }
  await s.save({ entries: [], hardState: { term: 1, vote: 'a', commit: to }, sync: true });
  return s;
}

for (const makeDisk of [memoryDisk, realDisk]) {
  describe(`snapshots on a ${makeDisk().name}`, () => {
    afterEach(() => disk.cleanup());

    test('a snapshot, then compaction behind it: whole segments, never beyond it', async () => {
      disk = makeDisk();
      const s = await withLog(100);
      const segmentsBefore = s.log.segmentCount();
      const file = await s.writeSnapshot(meta(70, 1), chunksOf('state at 70'));
      assert.deepEqual(file, { meta: meta(70, 1), file: snapshotFileName(meta(70, 1)), bytes: 11 });
      assert.deepEqual(s.snapshot(), meta(70, 1));
      assert.equal(s.firstIndex(), 1, 'writing a snapshot drops nothing');
      assert.throws(() => s.compact(71), /not covered by a snapshot \(at 70\)/);
      await s.compact(60);
      assert.ok(s.log.segmentCount() < segmentsBefore, 'whole segments behind it are gone');
      assert.equal(s.firstIndex(), 61, 'the log starts just after what was compacted');
      assert.equal(s.term(s.firstIndex() - 1), 1, 'the term before the first entry is kept');
      const kept = allEntries(s);
      assert.deepEqual(plain(kept), plain(entries(s.firstIndex(), 100, 1)));
      // The same after a restart.
      const first = s.firstIndex();
      await s.close();
      const again = await disk.open(small);
      assert.deepEqual(again.snapshot(), meta(70, 1));
      // After a restart the log starts with its oldest segment: a few entries may come back.
      assert.ok(again.firstIndex() > 1 && again.firstIndex() <= first, `${again.firstIndex()}`);
      assert.deepEqual(plain(allEntries(again)), plain(entries(again.firstIndex(), 100, 1)));
      assert.equal(again.lastIndex(), 100);
      assert.equal(again.hardState().commit, 100);
      await again.close();
    });

    test('a received snapshot replaces the log, which continues after it', async () => {
      disk = makeDisk();
      const s = await withLog(30);
      // The leader's log diverged after 20: its snapshot at 50 of term 3 replaces ours.
      const file = await s.writeSnapshot(meta(50, 3), chunksOf('state at 50'));
      await s.save({
        snapshot: file,
        entries: entries(51, 55, 3),
        hardState: { term: 3, vote: null, commit: 50 },
        sync: true,
      });
      assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(50)], [51, 55, 3]);
      assert.deepEqual(plain(allEntries(s)), plain(entries(51, 55, 3)));
      await s.close();
      const again = await disk.open(small);
      assert.deepEqual([again.firstIndex(), again.lastIndex(), again.term(50)], [51, 55, 3]);
      assert.deepEqual(again.snapshot(), meta(50, 3));
      assert.deepEqual(again.hardState(), { term: 3, vote: null, commit: 50 });
      // The replaced log's segments are gone: one segment, the new log's.
      assert.equal((await disk.fs.list(`${disk.dir}/log`))?.length, 1);
      await again.close();
    });

    test("two writers of one snapshot at once (its own and the leader's): one file, both resolve", async () => {
      // Found by the simulator (soak, seed 250815925): a follower took its own snapshot at the
      // index of the leader's it was receiving; both wrote the same temporary file, and the
      // second rename failed with ENOENT, stopping the node.
      disk = makeDisk();
      const s = await withLog(100);
      const slow = async function* () {
        yield new TextEncoder().encode('leader state ');
        await new Promise((r) => setTimeout(r, 20));
        yield new TextEncoder().encode('at 70');
      };
      const [a, b] = await Promise.all([
        s.writeSnapshot(meta(70, 1), slow()),
        s.writeSnapshot(meta(70, 1), chunksOf('own state at 70')),
      ]);
      assert.deepEqual(a, b, 'the second is told of the first, not renamed over it');
      assert.deepEqual(s.snapshotFile(), a);
      // And an older one finishing after a newer one does not replace it.
      const [c, d] = await Promise.all([
        s.writeSnapshot(meta(80, 1), slow()),
        s.writeSnapshot(meta(90, 1), chunksOf('state at 90')),
      ]);
      assert.deepEqual(c, d);
      assert.deepEqual(s.snapshot(), meta(90, 1));
      const names = ((await disk.fs.list(`${disk.dir}/state_machine`)) ?? []).sort();
      assert.ok(
        names.every((n) => !n.endsWith('.tmp')),
        names.join(' '),
      );
      await s.compact(85);
      await s.close();
      const again = await disk.open(small);
      assert.deepEqual(again.snapshot(), meta(90, 1));
      const state = [];
      for await (const chunk of again.readSnapshot(again.snapshotFile() as never))
        state.push(chunk);
      assert.equal(new TextDecoder().decode(Buffer.concat(state)), 'state at 90');
      await again.close();
    });

    test('a damaged newest snapshot: the older one if the log reaches it, said so; else refused', async () => {
      disk = makeDisk();
      const s = await withLog(100);
      await s.writeSnapshot(meta(40, 1), chunksOf('state at 40'));
      const newest = await s.writeSnapshot(meta(80, 1), chunksOf('state at 80'));
      await s.compact(30);
      const first = s.firstIndex();
      assert.ok(first <= 41, 'the log still reaches the older snapshot');
      await s.close();
      const path = `${disk.dir}/${newest.file}`;
      const bytes = (await disk.fs.readFile(path)) as Uint8Array;
      bytes[bytes.length - 20] = (bytes[bytes.length - 20] as number) ^ 1;
      const h = await disk.fs.open(path, 'create');
      await h.write(bytes, 0);
      await h.sync();
      await h.close();
      const logger = recordingLogger();
      const back = await disk.open({ ...small, logger });
      assert.deepEqual(back.snapshot(), meta(40, 1));
      assert.equal(back.lastIndex(), 100);
      assert.match(
        logger.lines.join('\n'),
        /the newest snapshot is damaged .*recovered from the older/,
      );
      // Compacted past the older snapshot, the log could not bridge: refused, naming the file.
      await back.writeSnapshot(meta(90, 1), chunksOf('state at 90'));
      await back.compact(85);
      await back.close();
      const names = (await disk.fs.list(`${disk.dir}/state_machine`)) ?? [];
      const ninety = snapshotFileName(meta(90, 1));
      const p90 = `${disk.dir}/${ninety}`;
      const b90 = (await disk.fs.readFile(p90)) as Uint8Array;
      b90[40] = (b90[40] as number) ^ 1;
      const h2 = await disk.fs.open(p90, 'create');
      await h2.write(b90, 0);
      await h2.sync();
      await h2.close();
      assert.ok(names.length >= 2);
      await assert.rejects(disk.open(small), (e: unknown) => {
        assert.ok(e instanceof CorruptionError);
        assert.equal(e.file, ninety);
        return true;
      });
    });
  });
}

test('power cuts while snapshotting, compacting and installing leave a snapshot and its log', async (t) => {
  const phases = new Map<string, number>();
  for (let seed = 0; seed < 200; seed++) {
    const random = seededRandom(seed);
    // The power goes as the disk performs its `crashAt`-th operation of the work below.
    let operations = 0;
    let crashAt = Number.POSITIVE_INFINITY;
    let phase = 'setup';
    const fs: MemoryFileSystem = new MemoryFileSystem({
      latency: async () => {
        if (++operations !== crashAt) return;
        phases.set(phase, (phases.get(phase) ?? 0) + 1);
        fs.crash(seededRandom(seed * 7 + 1));
      },
    });
    disk = { ...memoryDisk(), fs, open: (o = {}) => FileStorage.open('/data/node', { fs, ...o }) };
    const s = await withLog(60);
    crashAt = operations + 1 + random.int(45);
    const acknowledged: Entry[] = entries(1, 60, 1);
    let installed: SnapshotMeta | null = null;
    try {
      phase = 'snapshot';
      await s.writeSnapshot(meta(40, 1), chunksOf('s40'));
      phase = 'compaction';
      await s.compact(35);
      phase = 'entries';
      await s.save({ entries: entries(61, 70, 1), hardState: null, sync: true });
      acknowledged.push(...entries(61, 70, 1));
      phase = 'received snapshot';
      const file = await s.writeSnapshot(meta(90, 2), chunksOf('s90'));
      phase = 'install';
      await s.save({
        snapshot: file,
        entries: entries(91, 92, 2),
        hardState: { term: 2, vote: null, commit: 90 },
        sync: true,
      });
      installed = meta(90, 2);
      phase = 'after';
    } catch {
      // The disk died under the work: what follows is the recovery.
    } finally {
      await s.close().catch(() => {});
    }
    if (operations < crashAt) fs.crash(seededRandom(seed));
    const back = await disk.open({ ...small, logger: { warn() {} } });
    const snap = back.snapshot();
    // The log continues the snapshot: no gap, and the term at the snapshot is the snapshot's.
    if (snap !== null) {
      assert.ok(back.firstIndex() <= snap.index + 1, `seed ${seed}: a gap after the snapshot`);
      assert.equal(back.term(snap.index), snap.term, `seed ${seed}`);
    } else {
      assert.equal(back.firstIndex(), 1, `seed ${seed}`);
    }
    const log = allEntries(back);
    if (installed !== null) {
      assert.deepEqual(back.snapshot(), installed, `seed ${seed}`);
      assert.deepEqual(plain(log), plain(entries(91, 92, 2)), `seed ${seed}`);
    } else if (snap?.index !== 90) {
      // Everything acknowledged is there, in the log or covered by the snapshot.
      for (const e of acknowledged) {
        if (e.index <= (snap?.index ?? 0)) continue;
        const found = log.find((x) => x.index === e.index);
        assert.deepEqual(
          found && plain([found]),
          plain([e]),
          `seed ${seed}: entry ${e.index} lost`,
        );
      }
    } else {
      // The received snapshot was durable, its install not: the log restarts after it.
      assert.equal(back.firstIndex(), 91, `seed ${seed}`);
    }
    await back.close();
  }
  t.diagnostic(`power cuts by phase: ${JSON.stringify([...phases])}`);
  // Every phase of the work met a power cut in some seed.
  for (const p of ['snapshot', 'compaction', 'entries', 'received snapshot', 'install']) {
    assert.ok(
      (phases.get(p) ?? 0) >= 3,
      `${p}: ${phases.get(p) ?? 0} cuts (${JSON.stringify([...phases])})`,
    );
  }
});
