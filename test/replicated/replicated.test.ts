/**
 * Replicated objects on a three-node cluster: every operation of the issue, its result, the
 * same state on every node, operations (not whole values) in the log, atomic multi-key
 * updates, bad values and bad log entries refused, snapshot and restore.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidConfigError } from '../../src/core/index.js';
import {
  InvalidOperationError,
  jsonCodec,
  ObjectStore,
  Replicated,
  ReplicatedList,
  ReplicatedMap,
  type ValueCodec,
} from '../../src/replicated/index.js';
import { TestCluster } from '../node/support.js';

async function cluster(): Promise<TestCluster<ObjectStore>> {
  return TestCluster.of(3, () => new ObjectStore());
}

test('Replicated<T>: set on the leader, get on every node', async () => {
  const c = await cluster();
  try {
    const leader = await c.leader();
    const counter = new Replicated<number>(leader, 'counter');
    assert.equal(await counter.get(), undefined);
    await counter.set(1);
    await counter.set(2);
    for (const n of c.nodes.values())
      assert.equal(await new Replicated<number>(n, 'counter').get(), 2);
    // From a follower: forwarded, then read back there.
    const f = c.followers()[0];
    assert.ok(f !== undefined);
    const there = new Replicated<{ n: number }>(f, 'obj');
    await there.set({ n: 3 });
    assert.deepEqual(await there.get(), { n: 3 });
    assert.throws(() => {
      (f.stateMachine.value('obj') as { n: number }).n = 4;
    }, TypeError);
  } finally {
    await c.stop();
  }
});

test('ReplicatedMap: set, update, delete, pop, has, keys, values, entries, size', async () => {
  const c = await cluster();
  try {
    const leader = await c.leader();
    const data = new ReplicatedMap<number>(leader, 'data');
    await data.set('a', 1);
    assert.equal(await data.update({ b: 2, c: 3 }), 3);
    assert.equal(await data.update([['d', 4]]), 4);
    assert.equal(await data.delete('a'), true);
    assert.equal(await data.delete('a'), false);
    assert.equal(await data.pop('b'), 2);
    assert.equal(await data.pop('b'), undefined);
    assert.equal(await data.has('c'), true);
    assert.equal(await data.get('c'), 3);
    assert.deepEqual(await data.keys(), ['c', 'd']);
    assert.deepEqual(await data.values(), [3, 4]);
    assert.deepEqual(await data.entries(), [
      ['c', 3],
      ['d', 4],
    ]);
    assert.equal(await data.size(), 2);
    for (const n of c.nodes.values()) {
      assert.deepEqual(await new ReplicatedMap<number>(n, 'data').entries(), [
        ['c', 3],
        ['d', 4],
      ]);
    }
  } finally {
    await c.stop();
  }
});

test('ReplicatedList: append, extend, at with negative indexes, length, slice', async () => {
  const c = await cluster();
  try {
    const leader = await c.leader();
    const items = new ReplicatedList<string>(leader, 'items');
    assert.equal(await items.append('x'), 1);
    assert.equal(await items.extend(['y', 'z']), 3);
    assert.equal(await items.at(0), 'x');
    assert.equal(await items.at(-1), 'z');
    assert.equal(await items.at(5), undefined);
    assert.equal(await items.length(), 3);
    assert.deepEqual(await items.slice(1), ['y', 'z']);
    assert.deepEqual(await items.slice(-2, -1), ['y']);
    await assert.rejects(items.at(1.5), TypeError);
    const f = c.followers()[0];
    assert.ok(f !== undefined);
    assert.deepEqual(await new ReplicatedList<string>(f, 'items').slice(), ['x', 'y', 'z']);
  } finally {
    await c.stop();
  }
});

test('the log carries the operation, not the whole object', async () => {
  const c = await cluster();
  try {
    const leader = await c.leader();
    const data = new ReplicatedMap<string>(leader, 'big');
    await data.update(
      Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v'.repeat(100)])),
    );
    const before = leader.transportStats().bytesSent;
    await data.set('one', 'small');
    const spent = leader.transportStats().bytesSent - before;
    // Two followers, a few messages each: far below the 20 KB the whole map would take.
    assert.ok(spent < 2000, `${spent} bytes sent for one small set`);
  } finally {
    await c.stop();
  }
});

test('bad values, kinds and log entries are refused and change nothing', async () => {
  const c = await cluster();
  try {
    const leader = await c.leader();
    const data = new ReplicatedMap<unknown>(leader, 'data');
    await data.set('kept', 1);
    await assert.rejects(data.set('x', undefined), TypeError);
    await assert.rejects(data.set('x', Number.NaN), TypeError);
    await assert.rejects(data.set('x', new Date()), TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(data.update({ ok: 1, bad: cyclic }), TypeError);
    // A list operation on a map is refused when applied, on every node alike.
    await assert.rejects(new ReplicatedList(leader, 'data').append(1), InvalidOperationError);
    // Raw garbage proposed straight to the node is refused by the store, not a crash.
    await assert.rejects(
      leader.propose(new TextEncoder().encode('{"n":"data","t":"map","o":"nuke"}')),
      /unknown operation map.nuke/,
    );
    await assert.rejects(leader.propose(Uint8Array.of(0xff)), InvalidOperationError);
    for (const n of c.nodes.values()) {
      assert.deepEqual(await new ReplicatedMap(n, 'data').entries(), [['kept', 1]]);
    }
    assert.throws(() => new ReplicatedMap(leader, ''), InvalidConfigError);
  } finally {
    await c.stop();
  }
});

test('an object store snapshot restores every object; a bad snapshot changes nothing', () => {
  const a = new ObjectStore();
  const op = (o: object): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
  a.apply(op({ t: 'value', n: 'v', o: 'set', v: { deep: [1, 2] } }));
  a.apply(
    op({
      t: 'map',
      n: 'm',
      o: 'update',
      e: [
        ['k', 'v'],
        ['__proto__', 1],
      ],
    }),
  );
  a.apply(op({ t: 'list', n: 'l', o: 'extend', vs: [1, null, 'x'] }));
  const b = new ObjectStore();
  b.restore(a.snapshot());
  assert.deepEqual(b.value('v'), { deep: [1, 2] });
  assert.deepEqual(
    [...b.map('m')],
    [
      ['k', 'v'],
      ['__proto__', 1],
    ],
  );
  assert.deepEqual(b.list('l'), [1, null, 'x']);
  assert.deepEqual(b.snapshot(), a.snapshot());
  assert.throws(() => b.restore(new TextEncoder().encode('{"version":2}')), InvalidOperationError);
  assert.throws(
    () => b.restore(new TextEncoder().encode('{"version":1,"objects":[["m","map",[[1,2]]]]}')),
    InvalidOperationError,
  );
  assert.deepEqual(b.snapshot(), a.snapshot());
});

test('a pluggable codec carries the operations and values instead of JSON', async () => {
  // Tagged JSON: a version byte in front, so the log shows which codec wrote each entry.
  const tagged: ValueCodec = {
    encode: (v) => Uint8Array.of(0xc1, ...jsonCodec.encode(v)),
    decode: (b) => {
      if (b[0] !== 0xc1) throw new Error('not tagged');
      return jsonCodec.decode(b.subarray(1));
    },
  };
  const c = await TestCluster.of(3, () => new ObjectStore({ codec: tagged }));
  try {
    const leader = await c.leader();
    const items = new ReplicatedList<unknown>(leader, 'items');
    // Outside JSON's checks: this codec decides what it accepts.
    assert.equal(await items.append({ a: 1 }), 1);
    const f = c.followers()[0];
    assert.ok(f !== undefined);
    assert.deepEqual(await new ReplicatedList(f, 'items').slice(), [{ a: 1 }]);
    // A plain JSON operation proposed straight to the node is refused by this store.
    const plain = jsonCodec.encode({ t: 'list', n: 'items', o: 'append', v: 2 });
    await assert.rejects(leader.propose(plain), InvalidOperationError);
    assert.equal(await items.length(), 1);
  } finally {
    await c.stop();
  }
});
