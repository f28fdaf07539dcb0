/**
 * The key-value store's snapshot: frozen in O(1) while writes go on, serialised in slices,
 * restored whole or not at all. The frozen map is checked against a plain map over random
 * sequences of writes, freezes, reads of the frozen view and releases.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeKvCommand, type KvCommand } from '../../src/kv/commands.js';
import { KvSnapshotError } from '../../src/kv/kv-snapshot.js';
import { KvStore } from '../../src/kv/kv-store.js';
import { SnapshotMap } from '../../src/kv/snapshot-map.js';
import { propertySeed } from '../support/property.js';

type Step =
  | { kind: 'set'; key: string; value: number }
  | { kind: 'delete'; key: string }
  | { kind: 'freeze' }
  | { kind: 'release' };

const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('set' as const), key, value: fc.nat(99) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'freeze' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'release' as const }) },
);

test('property: the frozen map reads as a plain map, and a frozen view as the map at its freeze', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
      const map = new SnapshotMap<number>();
      const model = new Map<string, number>();
      let view: { entries: () => IterableIterator<[string, number]>; release: () => void } | null =
        null;
      let atFreeze: Map<string, number> | null = null;
      for (const s of steps) {
        if (s.kind === 'set') {
          map.set(s.key, s.value);
          model.set(s.key, s.value);
        } else if (s.kind === 'delete') {
          assert.equal(map.delete(s.key), model.delete(s.key));
        } else if (s.kind === 'freeze' && view === null) {
          view = map.freeze();
          atFreeze = new Map(model);
        } else if (s.kind === 'release' && view !== null) {
          assert.deepEqual(new Map(view.entries()), atFreeze, 'the view is the map at its freeze');
          view.release();
          view = null;
        }
        assert.equal(map.size, model.size);
        for (const k of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'])
          assert.equal(map.get(k), model.get(k));
        assert.deepEqual(new Map(map.entries()), model);
      }
    }),
    { ...propertySeed(), numRuns: 300 },
  );
});

const put = (key: string, value: string): KvCommand => ({ op: 'put', key, value });

async function read(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of chunks) out.push(c);
  return out;
}

test('a snapshot taken while writes go on is the state at its start, restored exactly', async () => {
  const store = new KvStore();
  let index = 0;
  const apply = (c: KvCommand) => store.apply(encodeKvCommand(c), ++index, index * 10);
  const client = (apply({ op: 'register' }) as { client: number }).client;
  store.apply(
    encodeKvCommand({
      op: 'put',
      key: 'sessioned',
      value: 'x',
      session: { client, seq: 1, ack: 1 },
    }),
    ++index,
    index * 10,
  );
  for (let i = 0; i < 20_000; i++) apply(put(`key-${i}`, `value-${i}`.repeat(3)));
  const before = store.snapshot();
  const chunks = store.takeSnapshot()[Symbol.asyncIterator]();
  // Writes between reads of the snapshot change the store, not the snapshot.
  const parts: Uint8Array[] = [];
  for (let n = 0; ; n++) {
    const next = await chunks.next();
    if (next.done === true) break;
    parts.push(next.value);
    apply(put(`key-${n}`, 'changed'));
    apply({ op: 'del', key: `key-${n + 10_000}` });
  }
  assert.ok(parts.length > 10, `${parts.length} chunks: produced in slices`);
  assert.ok(parts.every((p) => p.byteLength < 400_000));
  assert.equal(store.get('key-0')?.value, 'changed');
  const copy = new KvStore();
  await copy.restoreSnapshot(
    (async function* () {
      // Cut differently from how it was written: lines split across chunks.
      const all = Buffer.concat(parts);
      for (let at = 0; at < all.length; at += 777) yield all.subarray(at, at + 777);
    })(),
  );
  assert.deepEqual(copy.snapshot(), before);
  // A retry of the session's write is answered from the restored session, not applied again.
  const retry = copy.apply(
    encodeKvCommand({
      op: 'put',
      key: 'sessioned',
      value: 'y',
      session: { client, seq: 1, ack: 1 },
    }),
    index + 1,
    index * 10,
  );
  assert.deepEqual(retry, { index: 2 });
  // The live store caught up with its writes once the snapshot was done.
  const live = new KvStore();
  await live.restoreSnapshot(store.takeSnapshot());
  assert.deepEqual(new Map(live.snapshot().data), new Map(store.snapshot().data));
  assert.equal(live.size, store.size);
  // The restored map (adopted as parsed) counts, freezes and changes like any other.
  const view = live.takeSnapshot();
  live.apply(encodeKvCommand({ op: 'del', key: 'key-0' }), index + 2, index * 10);
  live.apply(encodeKvCommand({ op: 'put', key: 'fresh', value: 'f' }), index + 3, index * 10);
  assert.equal(live.size, store.size);
  const again = new KvStore();
  await again.restoreSnapshot(view);
  assert.deepEqual(new Map(again.snapshot().data), new Map(store.snapshot().data));
  assert.equal(live.get('key-0'), undefined);
  assert.equal(live.get('fresh')?.value, 'f');
});

test('a damaged snapshot is refused and the state is left as it was', async () => {
  const store = new KvStore();
  store.apply(encodeKvCommand(put('kept', 'yes')), 1, 0);
  const before = JSON.stringify(store.snapshot());
  const source = new KvStore();
  source.apply(encodeKvCommand(put('k', 'v')), 1, 0);
  const good = Buffer.concat(await read(source.takeSnapshot())).toString();
  const bad = [
    '',
    'not json\n',
    `${good.replace('raftkit kv snapshot', 'something else')}`,
    good.replace('"keys":1', '"keys":2'),
    good.slice(0, -1),
    `${good}["k","twice",1]\n`.replace('"keys":1', '"keys":2'),
    good.replace('["k","v",1]', '["k",5,1]'),
  ];
  for (const text of bad) {
    await assert.rejects(
      store.restoreSnapshot(
        (async function* () {
          yield new TextEncoder().encode(text);
        })(),
      ),
      KvSnapshotError,
      JSON.stringify(text.slice(0, 60)),
    );
    assert.equal(JSON.stringify(store.snapshot()), before);
  }
});
