/**
 * The log's time: stamped by the leader from its own monotonic clock, the same on every node,
 * never moving back, and moved by no node's clock setting (one node's clock is set two hours
 * ahead here, and leads for a while).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeStamped, encodeTagged, LeaderClock, stamp } from '../../src/node/command.js';
import { decodeCommand } from '../../src/node/index.js';
import { systemClock } from '../../src/node/system-clock.js';
import { encode, type ListMachine, TestCluster } from './support.js';

const TWO_HOURS_MS = 2 * 60 * 60 * 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('envelopes carry the leader stamp; a forwarded one is stamped as it is proposed', () => {
  const payload = encode('x');
  const plain = (c: ReturnType<typeof decodeCommand>) =>
    typeof c === 'string' ? c : { ...c, payload: [...c.payload] };
  assert.deepEqual(plain(decodeCommand(encodeStamped(payload, 1234))), {
    payload: [120],
    origin: null,
    incarnation: 0,
    request: 0,
    time: 1234,
  });
  const forwarded = stamp(encodeTagged(payload, 'n2', 7, 9), 55);
  assert.deepEqual(plain(decodeCommand(forwarded)), {
    payload: [120],
    origin: 'n2',
    incarnation: 7,
    request: 9,
    time: 55,
  });
  assert.equal((decodeCommand(encodeTagged(payload, 'n2', 7, 9)) as { time: null }).time, null);
  const bad = Buffer.from(encodeStamped(payload, 1));
  bad.writeDoubleBE(Number.NaN, 1);
  assert.equal(decodeCommand(bad), 'bad time in envelope');
  assert.equal(decodeCommand(new Uint8Array([2, 0, 0])), 'truncated command envelope');
  assert.equal(decodeCommand(new Uint8Array([4])), 'unknown command envelope 4');
});

test("a leader's stamps: its measured time from where the log was, never behind the log", () => {
  const clock = new LeaderClock(1000, 50);
  assert.equal(clock.stamp(1000, 50), 1000);
  assert.equal(clock.stamp(1000, 80.7), 1030);
  // The previous leader's later entries applied meanwhile: start again from their time.
  assert.equal(clock.stamp(5000, 90), 5000);
  assert.equal(clock.stamp(5000, 100), 5010);
  // A clock that jumps back measures nothing (a monotonic clock never does; still bounded).
  assert.equal(clock.stamp(5000, 10), 5000);
});

test('log time is the same everywhere, follows the leader, and ignores a clock set two hours ahead', async () => {
  const c = new TestCluster(3);
  const fast = { now: () => systemClock.now() + TWO_HOURS_MS, setTimer: systemClock.setTimer };
  for (const id of c.ids) await c.startNode(id, id === 'n3' ? { clock: fast } : {});
  try {
    let leader = await c.leader();
    await leader.propose(encode('a'));
    await sleep(150);
    await leader.propose(encode('b'));
    // Through every node, the n3 of the fast clock included (forwarded, stamped by the leader).
    for (const id of c.ids) await c.node(id).propose(encode(`via ${id}`));
    // Then n3 leads: its stamps start where the log's time is, not two hours ahead.
    if (leader.id !== 'n3') await leader.transferLeadership('n3', { timeoutMs: 3000 });
    leader = await c.leader();
    assert.equal(leader.id, 'n3');
    await leader.propose(encode('under n3'));
    await sleep(100);
    await leader.propose(encode('later under n3'));
    await c.applied(7);
    const times = (id: string) => (c.node(id).stateMachine as ListMachine).times;
    const t = times('n1');
    assert.deepEqual(times('n2'), t);
    assert.deepEqual(times('n3'), t);
    for (let i = 1; i < t.length; i++) assert.ok((t[i] as number) >= (t[i - 1] as number), `${t}`);
    assert.ok((t[1] as number) - (t[0] as number) >= 140, `150 ms measured: ${t}`);
    const span = (t.at(-1) as number) - (t[0] as number);
    assert.ok(span >= 240 && span < 60_000, `the log's time moved ${span} ms: ${t}`);
    assert.equal(c.node('n1').logTime, t.at(-1));
  } finally {
    await c.stop();
  }
});
