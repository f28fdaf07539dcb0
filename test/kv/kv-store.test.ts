/**
 * The key-value state machine: its operations, exactly-once writes through sessions, and
 * expiry decided by the log alone.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  encodeKvCommand,
  type KvCommand,
  type KvResult,
  type SessionRef,
} from '../../src/kv/commands.js';
import { KvStore } from '../../src/kv/kv-store.js';
import { InvalidCommandError } from '../../src/node/index.js';
import { propertySeed } from '../support/property.js';

/** Applies commands at consecutive indices, as the node would, at the log time given. */
class Applier {
  index = 0;
  constructor(readonly store = new KvStore()) {}
  apply(command: KvCommand, time = 0): KvResult {
    return this.store.apply(encodeKvCommand(command), ++this.index, time);
  }
  register(time = 0): number {
    const r = this.apply({ op: 'register' }, time);
    assert.ok('client' in r);
    return r.client;
  }
}

const put = (key: string, value: string, session?: SessionRef): KvCommand => ({
  op: 'put',
  key,
  value,
  ...(session === undefined ? {} : { session }),
});

describe('operations', () => {
  test('put, delete and compare-and-set return the index they were applied at', () => {
    const a = new Applier();
    assert.deepEqual(a.apply(put('k', 'v1')), { index: 1 });
    assert.deepEqual(a.store.get('k'), { value: 'v1', index: 1 });
    assert.deepEqual(a.apply({ op: 'cas', key: 'k', expected: 'nope', value: 'x' }), {
      index: 2,
      succeeded: false,
    });
    assert.deepEqual(a.apply({ op: 'cas', key: 'k', expected: 'v1', value: 'v2' }), {
      index: 3,
      succeeded: true,
    });
    assert.deepEqual(a.store.get('k'), { value: 'v2', index: 3 });
    // null expected: only when absent.
    assert.deepEqual(a.apply({ op: 'cas', key: 'k', expected: null, value: 'v3' }), {
      index: 4,
      succeeded: false,
    });
    assert.deepEqual(a.apply({ op: 'cas', key: 'n', expected: null, value: 'new' }), {
      index: 5,
      succeeded: true,
    });
    // null value: delete on success.
    assert.deepEqual(a.apply({ op: 'cas', key: 'n', expected: 'new', value: null }), {
      index: 6,
      succeeded: true,
    });
    assert.equal(a.store.get('n'), undefined);
    assert.deepEqual(a.apply({ op: 'del', key: 'k' }), { index: 7, deleted: true });
    assert.deepEqual(a.apply({ op: 'del', key: 'k' }), { index: 8, deleted: false });
    assert.equal(a.store.size, 0);
    assert.equal(a.store.appliedIndex, 8);
  });

  test('bytes that are not exactly a command are refused, and change nothing', () => {
    const a = new Applier();
    a.apply(put('k', 'v'));
    const before = JSON.stringify(a.store.snapshot());
    const bad = [
      new Uint8Array([0xff, 0xfe]),
      '[]',
      'null',
      '{"op":"put","key":"k","value":1,"at":0}',
      '{"op":"put","key":"k","at":0}',
      '{"op":"drop","key":"k","at":0}',
      '{"op":"put","key":"k","value":"v","at":0,"extra":1}',
      '{"op":"put","key":"k","value":"v","at":-1}',
      '{"op":"put","key":"k","value":"v","at":0,"session":{"client":1,"seq":1,"ack":2}}',
      '{"op":"put","key":"k","value":"v","at":0,"session":{"client":0,"seq":1,"ack":1}}',
      '{"op":"register","at":0,"session":{"client":1,"seq":1,"ack":1}}',
      '{"op":"cas","key":"k","expected":"v","at":0}',
      // Names every object has were taken for ops, and applied as nothing.
      '{"op":"constructor"}',
      '{"op":"toString","key":"k"}',
      '{"op":"__proto__"}',
    ];
    for (const b of bad) {
      const bytes = typeof b === 'string' ? new TextEncoder().encode(b) : b;
      assert.throws(() => a.store.apply(bytes, 99, 0), InvalidCommandError, String(b));
    }
    assert.equal(JSON.stringify(a.store.snapshot()), before);
  });
});

test("a command of an older log, carrying its server's clock as at, applies with at ignored", () => {
  const store = new KvStore();
  const bytes = new TextEncoder().encode('{"op":"put","key":"k","value":"v","at":9999999999999}');
  assert.deepEqual(store.apply(bytes, 1, 5), { index: 1 });
  assert.equal(store.sessions.clock, 5, 'the log time is the one the node hands over');
});

describe('sessions', () => {
  test('a retried write is applied once and answered with its first result', () => {
    const a = new Applier();
    const client = a.register();
    const first = a.apply(put('k', 'v1', { client, seq: 1, ack: 1 }));
    a.apply(put('k', 'other')); // someone else writes in between
    const retry = a.apply(put('k', 'v1', { client, seq: 1, ack: 1 }));
    assert.deepEqual(retry, first);
    assert.deepEqual(a.store.get('k'), { value: 'other', index: 3 });
    // A retried CAS keeps its first verdict too, though the state has changed since.
    const cas: KvCommand = {
      op: 'cas',
      key: 'c',
      expected: null,
      value: 'x',
      session: { client, seq: 2, ack: 1 },
    };
    assert.deepEqual(a.apply(cas), { index: 5, succeeded: true });
    assert.deepEqual(a.apply(cas), { index: 5, succeeded: true });
  });

  test('requests of one client may arrive in any order; those it no longer waits for are refused', () => {
    const a = new Applier();
    const client = a.register();
    assert.deepEqual(a.apply(put('k', '3', { client, seq: 3, ack: 1 })), { index: 2 });
    assert.deepEqual(a.apply(put('k', '1', { client, seq: 1, ack: 1 })), { index: 3 });
    // The client has everything below 3 now; a late copy of 2 must not apply.
    assert.deepEqual(a.apply(put('k', '4', { client, seq: 4, ack: 3 })), { index: 4 });
    assert.deepEqual(a.apply(put('k', '2', { client, seq: 2, ack: 1 })), {
      rejected: 'stale-request',
    });
    assert.deepEqual(a.store.get('k'), { value: '4', index: 4 });
  });

  test('an unknown or expired client is refused, never applied', () => {
    const a = new Applier(new KvStore({ ttlMs: 1000 }));
    assert.deepEqual(a.apply(put('k', 'v', { client: 42, seq: 1, ack: 1 })), {
      rejected: 'session-expired',
    });
    const client = a.register(10_000);
    a.apply(put('k', 'v', { client, seq: 1, ack: 1 }), 10_500);
    // Idle for exactly the TTL: still there.
    assert.deepEqual(a.apply(put('k', 'v', { client, seq: 1, ack: 1 }), 11_500), { index: 3 });
    // Log time moves on, through anyone's command: the session expires.
    a.apply(put('other', 'x'), 12_501);
    assert.equal(a.store.sessions.size, 0);
    assert.deepEqual(a.apply(put('k', 'v', { client, seq: 1, ack: 1 }), 12_600), {
      rejected: 'session-expired',
    });
    // Time never goes back (the node never hands a lower one; the table holds it anyway).
    a.apply(put('other', 'y'), 5);
    assert.equal(a.store.sessions.clock, 12_600);
  });

  test('the table is bounded: the least recently used session goes first', () => {
    const a = new Applier(new KvStore({ maxSessions: 2 }));
    const c1 = a.register();
    const c2 = a.register();
    a.apply(put('k', 'v', { client: c1, seq: 1, ack: 1 })); // c1 used after c2
    const c3 = a.register();
    assert.equal(a.store.sessions.size, 2);
    assert.deepEqual(a.apply(put('k', 'v', { client: c2, seq: 1, ack: 1 })), {
      rejected: 'session-expired',
    });
    assert.ok('index' in a.apply(put('k', 'v', { client: c1, seq: 2, ack: 1 })));
    assert.ok('index' in a.apply(put('k', 'v', { client: c3, seq: 1, ack: 1 })));
  });

  test('results a client never acknowledges are bounded; the forgotten ones are refused', () => {
    const a = new Applier(new KvStore({ maxPendingPerClient: 3 }));
    const client = a.register();
    for (let seq = 1; seq <= 5; seq++) a.apply(put('k', String(seq), { client, seq, ack: 1 }));
    assert.deepEqual(a.apply(put('k', '1', { client, seq: 1, ack: 1 })), {
      rejected: 'stale-request',
    });
    assert.deepEqual(a.apply(put('k', '5', { client, seq: 5, ack: 1 })), { index: 6 });
  });

  test('snapshot and restore carry the data and the sessions', () => {
    const a = new Applier();
    const client = a.register(7);
    a.apply(put('k', 'v', { client, seq: 1, ack: 1 }), 8);
    const b = new Applier(new KvStore());
    b.store.restore(JSON.parse(JSON.stringify(a.store.snapshot())));
    b.index = a.index;
    assert.deepEqual(b.apply(put('k', 'v', { client, seq: 1, ack: 1 }), 9), { index: 2 });
    assert.deepEqual(b.store.snapshot().data, a.store.snapshot().data);
    assert.equal(b.store.appliedIndex, 3);
    assert.equal(b.store.sessions.clock, 9);
  });
});

test('property: with retries duplicated and reordered, each request applies exactly once', () => {
  // A client's requests, each sent one to three times; copies interleave with other clients'.
  const schedule = fc.array(
    fc.record({
      client: fc.integer({ min: 0, max: 2 }),
      op: fc.constantFrom('put', 'del', 'cas'),
      key: fc.constantFrom('a', 'b'),
      value: fc.constantFrom('x', 'y', 'z'),
      copies: fc.integer({ min: 1, max: 3 }),
    }),
    { maxLength: 40 },
  );
  fc.assert(
    fc.property(schedule, fc.infiniteStream(fc.nat()), (requests, picks) => {
      const a = new Applier();
      const clients = [a.register(), a.register(), a.register()];
      const nextSeq = [1, 1, 1];
      const queue: { command: KvCommand; id: number }[] = [];
      requests.forEach((r, id) => {
        const client = clients[r.client] as number;
        const seq = nextSeq[r.client] as number;
        nextSeq[r.client] = seq + 1;
        const session = { client, seq, ack: 1 };
        const command: KvCommand =
          r.op === 'put'
            ? put(r.key, r.value, session)
            : r.op === 'del'
              ? { op: 'del', key: r.key, session }
              : { op: 'cas', key: r.key, expected: null, value: r.value, session };
        for (let c = 0; c < r.copies; c++) queue.push({ command, id });
      });
      // Deliver the copies in a random order; the first copy of each request to arrive is
      // the one that applies, and the model applies it once at that point.
      const model = new Applier();
      const firstResult = new Map<number, KvResult>();
      const it = picks[Symbol.iterator]();
      while (queue.length > 0) {
        const [{ command, id }] = queue.splice((it.next().value as number) % queue.length, 1) as [
          { command: KvCommand; id: number },
        ];
        const result = a.apply(command);
        const known = firstResult.get(id);
        if (known === undefined) {
          firstResult.set(id, result);
          const { session: _, ...plain } = command as KvCommand & { session: SessionRef };
          model.index = a.index - 1;
          assert.deepEqual(model.apply(plain as KvCommand), result);
        } else {
          assert.deepEqual(result, known);
        }
      }
      assert.deepEqual(a.store.snapshot().data, model.store.snapshot().data);
    }),
    { ...propertySeed(), numRuns: 200 },
  );
});
