/**
 * The linearizability checker: the textbook cases, agreement with a brute-force search over
 * every order on small random histories, and histories of a real atomic register (always
 * linearizable) with one answer corrupted (never).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  checkLinearizable,
  type HistoryOperation,
  type KvInput,
  type KvOutput,
  kvModel,
} from '../../src/check/index.js';
import { propertySeed } from '../support/property.js';

type Op = HistoryOperation<KvInput, KvOutput>;
/** An input without its key (Omit over each member of the union). */
type Bare = KvInput extends infer T ? (T extends KvInput ? Omit<T, 'key'> : never) : never;

const op = (
  process: number,
  input: Bare & { key?: string },
  call: number,
  ret: number | undefined,
  output?: KvOutput,
): Op => ({
  process,
  input: { key: 'k', ...input } as KvInput,
  call,
  ...(ret === undefined ? {} : { ret }),
  ...(output === undefined ? {} : { output }),
});

const verdict = (ops: Op[]) => checkLinearizable(ops, kvModel).linearizable;

describe('textbook histories', () => {
  test('sequential and overlapping histories', () => {
    // w(1) then r -> 1.
    assert.equal(
      verdict([op(0, { op: 'put', value: '1' }, 0, 1, null), op(1, { op: 'get' }, 2, 3, '1')]),
      true,
    );
    // A read after a completed write that returns the old value: stale, not linearizable.
    assert.equal(
      verdict([
        op(0, { op: 'put', value: '1' }, 0, 1, null),
        op(0, { op: 'put', value: '2' }, 2, 3, null),
        op(1, { op: 'get' }, 4, 5, '1'),
      ]),
      false,
    );
    // Overlapping the write, a read may see either value...
    for (const seen of [null, '1']) {
      assert.equal(
        verdict([op(0, { op: 'put', value: '1' }, 0, 10, null), op(1, { op: 'get' }, 2, 3, seen)]),
        true,
      );
    }
    // ...but two reads by others cannot see new then old once the first has returned.
    assert.equal(
      verdict([
        op(0, { op: 'put', value: '1' }, 0, 10, null),
        op(1, { op: 'get' }, 1, 2, '1'),
        op(2, { op: 'get' }, 3, 4, null),
      ]),
      false,
    );
    // A value nobody wrote.
    assert.equal(verdict([op(0, { op: 'get' }, 0, 1, 'ghost')]), false);
  });

  test('compare-and-set, delete, and keys checked apart', () => {
    assert.equal(
      verdict([
        op(0, { op: 'cas', expected: null, value: 'a' }, 0, 1, true),
        op(1, { op: 'cas', expected: null, value: 'b' }, 2, 3, false),
        op(1, { op: 'del' }, 4, 5, true),
        op(0, { op: 'del' }, 6, 7, false),
      ]),
      true,
    );
    // Two concurrent CAS from absent cannot both succeed.
    assert.equal(
      verdict([
        op(0, { op: 'cas', expected: null, value: 'a' }, 0, 5, true),
        op(1, { op: 'cas', expected: null, value: 'b' }, 1, 6, true),
      ]),
      false,
    );
    // Keys are independent: a write to x says nothing about y.
    const v = checkLinearizable(
      [
        op(0, { op: 'put', value: '1', key: 'x' }, 0, 1, null),
        op(1, { op: 'get', key: 'y' }, 2, 3, null),
      ],
      kvModel,
    );
    assert.deepEqual([v.linearizable, v.partitions], [true, 2]);
  });

  test('a write of unknown outcome may have happened, at any time after its call, or not', () => {
    const unknown = op(0, { op: 'put', value: '1' }, 0, undefined);
    assert.equal(verdict([unknown, op(1, { op: 'get' }, 5, 6, '1')]), true);
    assert.equal(verdict([unknown, op(1, { op: 'get' }, 5, 6, null)]), true);
    // Once seen, it cannot be unseen.
    assert.equal(
      verdict([unknown, op(1, { op: 'get' }, 5, 6, '1'), op(1, { op: 'get' }, 7, 8, null)]),
      false,
    );
    // It cannot act before it was invoked.
    assert.equal(
      verdict([op(1, { op: 'get' }, 0, 1, '1'), op(0, { op: 'put', value: '1' }, 2, undefined)]),
      false,
    );
  });

  test('a failing verdict names the partition and how far the search got', () => {
    const v = checkLinearizable(
      [op(0, { op: 'put', value: '1' }, 0, 1, null), op(1, { op: 'get' }, 2, 3, '2')],
      kvModel,
    );
    assert.equal(v.linearizable, false);
    if (v.linearizable === false) {
      assert.equal(v.partition.length, 2);
      assert.deepEqual(v.longest, [0]);
    }
  });

  test('out of budget is "unknown", never a verdict', () => {
    const ops = Array.from({ length: 12 }, (_, i) =>
      op(i, { op: 'put', value: String(i) }, 0, 100, null),
    );
    ops.push(op(99, { op: 'get' }, 101, 102, 'never'));
    assert.equal(checkLinearizable(ops, kvModel, { maxSteps: 50 }).linearizable, 'unknown');
    assert.equal(checkLinearizable(ops, kvModel).linearizable, false);
  });
});

/** Every order of the operations that respects real time, replayed: the definition itself. */
function bruteForce(ops: Op[]): boolean {
  const n = ops.length;
  const used = new Array<boolean>(n).fill(false);
  const search = (state: string | null, placed: number): boolean => {
    if (placed === n) return true;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      const o = ops[i] as Op;
      // o may go next only if no unplaced operation returned before o was called.
      if (ops.some((p, j) => !used[j] && j !== i && (p.ret ?? Infinity) < o.call)) continue;
      const r = kvModel.step(state, o.input);
      if (o.output !== undefined && r.output !== o.output) continue;
      used[i] = true;
      if (search(r.state, placed + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  return search(null, 0);
}

const values = ['a', 'b'] as const;
const arbitraryOp = fc
  .record({
    kind: fc.constantFrom('get', 'put', 'del', 'cas'),
    value: fc.constantFrom(...values),
    expected: fc.constantFrom(null, ...values),
    call: fc.integer({ min: 0, max: 20 }),
    length: fc.integer({ min: 0, max: 8 }),
    unknown: fc.boolean(),
    output: fc.constantFrom<KvOutput>(null, true, false, ...values),
  })
  .map((r): Op => {
    const input =
      r.kind === 'get'
        ? { op: 'get' as const }
        : r.kind === 'put'
          ? { op: 'put' as const, value: r.value }
          : r.kind === 'del'
            ? { op: 'del' as const }
            : { op: 'cas' as const, expected: r.expected, value: r.value };
    const unknown = r.unknown && r.kind !== 'get';
    const output = r.kind === 'put' ? null : r.output;
    return op(
      0,
      input,
      r.call + 0.5,
      unknown ? undefined : r.call + 0.5 + r.length + 0.25,
      unknown ? undefined : output,
    );
  });

test('property: agrees with the brute-force definition on small histories', () => {
  let yes = 0;
  let no = 0;
  fc.assert(
    fc.property(fc.array(arbitraryOp, { minLength: 1, maxLength: 6 }), (ops) => {
      const expected = bruteForce(ops);
      if (expected) yes++;
      else no++;
      assert.equal(verdict(ops), expected);
    }),
    { ...propertySeed(), numRuns: 3000 },
  );
  // Both verdicts were exercised, many times.
  assert.ok(yes > 300 && no > 300, `${yes} linearizable, ${no} not`);
});

test('property: a real atomic register is linearizable; one corrupted read is caught', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          process: fc.integer({ min: 0, max: 4 }),
          kind: fc.constantFrom('get', 'put', 'cas'),
          start: fc.integer({ min: 0, max: 1000 }),
          before: fc.integer({ min: 0, max: 30 }),
          after: fc.integer({ min: 0, max: 30 }),
          unknown: fc.boolean(),
        }),
        { minLength: 1, maxLength: 60 },
      ),
      (specs) => {
        // Each operation takes effect atomically at a point inside its interval.
        const planned = specs.map((s, i) => ({ ...s, at: s.start + s.before + i / 1000 }));
        const order = [...planned.keys()].sort(
          (a, b) => (planned[a]?.at ?? 0) - (planned[b]?.at ?? 0),
        );
        let state: string | null = null;
        const ops: Op[] = new Array(planned.length);
        for (const i of order) {
          const s = planned[i] as (typeof planned)[number];
          const input: Bare =
            s.kind === 'get'
              ? { op: 'get' }
              : s.kind === 'put'
                ? { op: 'put', value: `v${i}` }
                : { op: 'cas', expected: state, value: `v${i}` };
          const r = kvModel.step(state, { key: 'k', ...input } as KvInput);
          state = r.state;
          const unknown = s.unknown && s.kind !== 'get';
          ops[i] = op(
            s.process,
            input,
            s.start,
            unknown ? undefined : s.at + s.after + 0.0001,
            unknown ? undefined : r.output,
          );
        }
        assert.equal(verdict(ops), true);
        const read = ops.findIndex((o) => o.input.op === 'get' && o.ret !== undefined);
        if (read >= 0) {
          const corrupted = [...ops];
          corrupted[read] = { ...(ops[read] as Op), output: 'never written' };
          assert.equal(verdict(corrupted), false);
        }
      },
    ),
    { ...propertySeed(), numRuns: 300 },
  );
});
