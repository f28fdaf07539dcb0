/**
 * The checker's explanations: hand-made histories that are not linearizable are rejected
 * with the few operations that conflict, and a realistic history of 10,000 operations (five
 * clients, ten keys) is checked in seconds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkLinearizable,
  type HistoryOperation,
  type KvInput,
  type KvOutput,
  kvModel,
} from '../../src/check/index.js';
import { SimRandom } from '../../src/sim/index.js';

type Op = HistoryOperation<KvInput, KvOutput>;

const done = (
  process: number,
  input: KvInput,
  call: number,
  ret: number,
  output: KvOutput,
): Op => ({
  process,
  input,
  call,
  ret,
  output,
});

/** Unrelated, linearizable traffic on other keys and around the conflict, to be cut away. */
function noise(from: number): Op[] {
  const ops: Op[] = [];
  for (let i = 0; i < 40; i++) {
    const t = from + i * 3;
    ops.push(done(3, { key: 'other', op: 'put', value: `v${i}` }, t, t + 1, null));
    ops.push(done(4, { key: 'other', op: 'get' }, t + 1.5, t + 2, `v${i}`));
  }
  return ops;
}

function rejected(history: Op[]) {
  const v = checkLinearizable(history, kvModel);
  assert.equal(v.linearizable, false);
  if (v.linearizable !== false) throw new Error('unreachable');
  return v;
}

test('a stale read after a completed write: the two writes and the read', () => {
  const w1 = done(0, { key: 'x', op: 'put', value: '1' }, 0, 1, null);
  const w2 = done(1, { key: 'x', op: 'put', value: '2' }, 2, 3, null);
  const fresh = done(2, { key: 'x', op: 'get' }, 3.5, 3.8, '2');
  const stale = done(2, { key: 'x', op: 'get' }, 4, 5, '1');
  const later = done(1, { key: 'x', op: 'get' }, 100, 101, '2');
  const v = rejected([w1, w2, fresh, stale, later, ...noise(0)]);
  // The stale read is the answer that cannot be right; the writes it contradicts stay as context.
  assert.deepEqual(v.conflict.core, [stale]);
  assert.deepEqual(v.conflict.context, [w1, w2]);
  assert.match(v.explanation, /get x -> "1"/);
  assert.match(v.explanation, /put x="2"/);
  assert.doesNotMatch(v.explanation, /other/);
});

test('a lost write: a read after it completed sees nothing', () => {
  const w = done(0, { key: 'x', op: 'put', value: 'a' }, 0, 1, null);
  const lost = done(1, { key: 'x', op: 'get' }, 2, 3, null);
  const v = rejected([w, lost, done(0, { key: 'x', op: 'get' }, 50, 51, null), ...noise(10)]);
  assert.deepEqual(v.conflict.core, [lost]);
  assert.deepEqual(v.conflict.context, [w]);
});

test('a compare-and-set that succeeded twice from the same value', () => {
  const init = done(0, { key: 'x', op: 'put', value: '0' }, 0, 1, null);
  const cas1 = done(1, { key: 'x', op: 'cas', expected: '0', value: '1' }, 2, 3, true);
  const cas2 = done(2, { key: 'x', op: 'cas', expected: '0', value: '2' }, 4, 5, true);
  const read = done(0, { key: 'x', op: 'get' }, 6, 7, '2');
  const v = rejected([init, cas1, cas2, read, ...noise(0)]);
  // The second success cannot be right once the first took effect; the read after them is
  // not needed.
  assert.deepEqual(v.conflict.core, [cas2]);
  assert.deepEqual(v.conflict.context, [init, cas1]);
  assert.match(v.explanation, /this answer cannot be right\n.*cas x "0"->"2" -> true/);
  assert.match(v.explanation, /given these writes.*\n.*put x="0".*\n.*cas x "0"->"1" -> true/);
});

test('every reduction keeps the claim: the core and its context alone are not linearizable', () => {
  const random = new SimRandom(7);
  for (let round = 0; round < 30; round++) {
    const { history } = registerHistory(random, 200, 3, 2);
    // Corrupt one read answer.
    const i = history.findIndex(
      (o, j) => j > 100 && o.input.op === 'get' && o.output !== undefined,
    );
    if (i < 0) continue;
    history[i] = { ...(history[i] as Op), output: 'corrupt' };
    const v = rejected(history);
    const proof = [...v.conflict.core, ...v.conflict.context] as Op[];
    assert.equal(checkLinearizable(proof, kvModel).linearizable, false);
    assert.ok(v.conflict.core.length <= 3, `core of ${v.conflict.core.length}`);
  }
});

test('10,000 operations of 5 clients over 10 keys are checked in seconds', () => {
  const { history } = registerHistory(new SimRandom(1), 10_000, 10, 5);
  const started = performance.now();
  const v = checkLinearizable(history, kvModel);
  const ms = performance.now() - started;
  assert.equal(v.linearizable, true);
  assert.equal(v.partitions, 10);
  assert.ok(ms < 5000, `${Math.round(ms)} ms`);
  // And with one answer wrong, it is rejected, also in seconds.
  const read = history.findIndex(
    (o, j) => j > 5000 && o.input.op === 'get' && o.output !== undefined,
  );
  history[read] = { ...(history[read] as Op), output: 'never written' };
  const t2 = performance.now();
  assert.equal(checkLinearizable(history, kvModel).linearizable, false);
  assert.ok(performance.now() - t2 < 10_000);
});

/**
 * A history of real registers: `clients` clients run overlapping operations on `keys` keys;
 * each takes effect at a random moment inside its interval; some writes never answer.
 */
function registerHistory(random: SimRandom, count: number, keys: number, clients: number) {
  const planned: { op: Op; at: number }[] = [];
  const free = new Array<number>(clients).fill(0);
  for (let n = 0; n < count; n++) {
    const c = n % clients;
    const call = (free[c] as number) + random.float() * 2;
    const ret = call + 0.1 + random.float() * 4;
    free[c] = ret;
    const key = `k${random.int(keys)}`;
    const dice = random.int(10);
    const input: KvInput =
      dice < 4
        ? { key, op: 'get' }
        : dice < 8
          ? { key, op: 'put', value: `${c}.${n}` }
          : {
              key,
              op: 'cas',
              expected: `${random.int(clients)}.${n - 1 - random.int(20)}`,
              value: `${c}.${n}`,
            };
    planned.push({
      op: { process: c, input, call, ret },
      at: call + random.float() * (ret - call),
    });
  }
  const state = new Map<string, string | null>();
  const history: Op[] = [];
  for (const { op, at } of [...planned].sort((a, b) => a.at - b.at)) {
    const step = kvModel.step(state.get(op.input.key) ?? null, op.input);
    state.set(op.input.key, step.state);
    const unknown = op.input.op !== 'get' && random.chance(0.01);
    history.push(
      unknown
        ? { process: op.process, input: op.input, call: op.call }
        : { ...op, output: step.output },
    );
    void at;
  }
  return { history: history.sort((a, b) => a.call - b.call) };
}
