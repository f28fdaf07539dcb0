/**
 * The wire codec: every message survives a round trip, and no byte string makes the decoder
 * throw or hand out something the core would not accept.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkMessageShape, type Message, messageTypes } from '../../src/core/index.js';
import {
  Backoff,
  clusterTag,
  type DecodeFailure,
  decodeMessage,
  encodeMessage,
  type Frame,
  FrameCipher,
  FrameReader,
  FrameTooLargeError,
  formationTag,
  isDecodeFailure,
  lengthPrefix,
  UNBOUND_FORMATION,
  WIRE_VERSION,
  WireCodec,
} from '../../src/transport/index.js';
import { layouts } from '../../src/transport/wire-layout.js';
import { propertySeed } from '../support/property.js';

const tag = clusterTag('test');
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

export const sampleFrames: Frame[] = [
  {
    type: 'append',
    from: 'a',
    to: 'b',
    term: 3,
    prevIndex: 7,
    prevTerm: 2,
    commit: 6,
    entries: [
      { index: 8, term: 3, kind: 'noop', data: new Uint8Array(0) },
      { index: 9, term: 3, kind: 'command', data: bytes(1, 2, 3) },
    ],
  },
  {
    type: 'append',
    from: 'a',
    to: 'b',
    term: 1,
    prevIndex: 0,
    prevTerm: 0,
    commit: 0,
    entries: [],
  },
  {
    type: 'append-response',
    from: 'b',
    to: 'a',
    term: 3,
    success: false,
    index: 9,
    hintIndex: 4,
    hintTerm: 2,
  },
  { type: 'heartbeat', from: 'a', to: 'b', term: 3, commit: 9, round: 4 },
  { type: 'heartbeat-response', from: 'b', to: 'a', term: 3, round: 4 },
  {
    type: 'vote',
    from: 'c',
    to: 'a',
    term: 5,
    preVote: true,
    lastIndex: 9,
    lastTerm: 3,
    transfer: false,
  },
  {
    type: 'vote',
    from: 'c',
    to: 'a',
    term: 5,
    preVote: false,
    lastIndex: 9,
    lastTerm: 3,
    transfer: true,
  },
  { type: 'vote-response', from: 'a', to: 'c', term: 5, preVote: true, granted: true },
  { type: 'timeout-now', from: 'a', to: 'c', term: 5 },
  { type: 'read-index', from: 'c', to: 'a', term: 5, context: 'r-17 ü' },
  { type: 'read-index-response', from: 'a', to: 'c', term: 5, context: 'r-17 ü', index: 12 },
  {
    type: 'install-snapshot',
    from: 'a',
    to: 'c',
    term: 7,
    snapshot: { index: 9000, term: 6, membership: { voters: ['a', 'b', 'c'], learners: ['d ü'] } },
  },
  {
    type: 'install-snapshot',
    from: 'a',
    to: 'c',
    term: 7,
    snapshot: {
      index: 9001,
      term: 6,
      membership: {
        voters: ['a', 'd'],
        learners: ['e'],
        outgoing: ['a', 'b', 'c'],
        addresses: { a: '10.0.0.1:8000', 'd ü': 'host-d:8000', ['__proto__']: 'x:1' },
      },
    },
  },
  {
    type: 'snapshot-chunk',
    from: 'a',
    to: 'c',
    term: 7,
    snapshot: { index: 9000, term: 6, membership: { voters: ['a', 'b', 'c'], learners: [] } },
    offset: 1_048_576,
    last: true,
    data: bytes(1, 2, 3),
  },
  {
    type: 'snapshot-ack',
    from: 'c',
    to: 'a',
    term: 7,
    index: 9000,
    offset: 1_048_579,
    status: 'installed',
  },
  { type: 'hello', from: '127.0.0.1:8000', to: '127.0.0.1:8001' },
  {
    type: 'member-request',
    from: 'c',
    to: 'a',
    id: 4,
    term: 7,
    timeoutMs: 60_000,
    body: '{"addVoter":{"id":"d ü","address":"10.0.0.4:8000"}}',
  },
  {
    type: 'member-reply',
    from: 'a',
    to: 'c',
    id: 4,
    term: 7,
    code: 'ok',
    reason: null,
    detail: '',
    leader: 'a',
    index: 9002,
  },
  {
    type: 'member-reply',
    from: 'a',
    to: 'c',
    id: 5,
    term: 7,
    code: 'RAFT_MEMBERSHIP_REFUSED',
    reason: 'change-in-progress',
    detail: 'the configuration at 9002 is not yet committed',
    leader: 'a',
    index: 0,
  },
  { type: 'forward', from: 'c', to: 'a', id: 99, term: 6, commands: [bytes(9), bytes()] },
  {
    type: 'forward-refusal',
    from: 'a',
    to: 'c',
    id: 99,
    code: 'RAFT_NOT_LEADER',
    reason: null,
    limit: null,
    detail: 'not the leader',
    leader: 'b',
    term: 6,
  },
  {
    type: 'forward-refusal',
    from: 'a',
    to: 'c',
    id: 1,
    code: 'RAFT_OVERLOADED',
    reason: null,
    limit: 'maxUncommittedBytes',
    detail: 'full',
    leader: null,
    term: 6,
  },
  {
    type: 'forward-refusal',
    from: 'a',
    to: 'c',
    id: 2,
    code: 'RAFT_PROPOSAL_DROPPED',
    reason: 'too-large',
    limit: null,
    detail: 'ü'.repeat(2000),
    leader: 'a',
    term: 6,
  },
];

test('the layout table gives every frame type its own code, and the samples cover them all', () => {
  const codes = Object.values(layouts).map((l) => l.code);
  assert.equal(new Set(codes).size, codes.length);
  assert.deepEqual(new Set(sampleFrames.map((f) => f.type)), new Set(Object.keys(layouts)));
});

test('every message type survives a round trip', () => {
  for (const frame of sampleFrames) {
    const decoded = decodeMessage(encodeMessage(frame, tag), tag);
    assert.deepEqual(decoded, frame, frame.type);
  }
});

test('a refusal carries exactly the field of its code, and a long detail is cut whole', () => {
  const refusal = sampleFrames.find(
    (f) => f.type === 'forward-refusal' && f.code === 'RAFT_PROPOSAL_DROPPED',
  ) as Frame & { type: 'forward-refusal' };
  const long = { ...refusal, detail: `x${'ü'.repeat(3000)}` };
  const decoded = decodeMessage(encodeMessage(long, tag), tag) as typeof refusal;
  assert.equal(Buffer.byteLength(decoded.detail), 4095, 'cut before a character, not inside it');
  assert.ok(long.detail.startsWith(decoded.detail));
  for (const bad of [
    { ...refusal, reason: null },
    { ...refusal, limit: 'maxUncommittedBytes' },
    { ...refusal, code: 'RAFT_OVERLOADED' as const },
    { ...refusal, code: 'RAFT_NOT_LEADER' as const },
  ]) {
    const r = decodeMessage(encodeMessage(bad, tag), tag);
    assert.equal((r as { reason: string }).reason, 'invalid', JSON.stringify(bad).slice(0, 80));
  }
});

test('a frame of another cluster or another version is refused, not misread', () => {
  const body = encodeMessage(sampleFrames[3] as Frame, tag);
  assert.deepEqual(decodeMessage(body, clusterTag('other')), {
    reason: 'cluster',
    detail: 'frame from another cluster',
  });
  const future = Buffer.from(body);
  future[0] = WIRE_VERSION + 1;
  assert.equal((decodeMessage(future, tag) as { reason: string }).reason, 'version');
});

test('a frame of another formation of the same cluster name is refused once both know theirs', () => {
  const frame = sampleFrames[3] as Frame;
  const a = formationTag('identity-a');
  const b = formationTag('identity-b');
  assert.notEqual(a, b);
  assert.notEqual(a, UNBOUND_FORMATION);
  const refused = decodeMessage(encodeMessage(frame, tag, a), tag, b) as DecodeFailure;
  assert.equal(refused.reason, 'cluster');
  assert.match(
    refused.detail,
    /another cluster of the same name \(formation [0-9a-f]{8}, this one is [0-9a-f]{8}\)/,
  );
  // A node that has not learnt its identity yet is accepted, and accepts: it brings no state.
  assert.deepEqual(decodeMessage(encodeMessage(frame, tag, a), tag, a), frame);
  assert.deepEqual(decodeMessage(encodeMessage(frame, tag), tag, b), frame);
  assert.deepEqual(decodeMessage(encodeMessage(frame, tag, a), tag), frame);
  // Bound through the codec: counted as a drop for `cluster`.
  const mine = new WireCodec({ now: () => 0 });
  const theirs = new WireCodec({ now: () => 0 });
  mine.bindCluster('identity-a');
  theirs.bindCluster('identity-b');
  assert.equal(mine.decode(theirs.encode(frame), 'peer'), null);
  assert.equal(mine.stats().dropped.cluster, 1);
});

test('every truncation and every extension of a valid frame is refused', () => {
  for (const frame of sampleFrames) {
    const body = encodeMessage(frame, tag);
    for (let n = 0; n < body.length; n++) {
      const r = decodeMessage(body.subarray(0, n), tag);
      assert.ok(isDecodeFailure(r), `${frame.type} cut to ${n} bytes decoded`);
    }
    const longer = Buffer.concat([body, bytes(0)]);
    assert.ok(isDecodeFailure(decodeMessage(longer, tag)), `${frame.type} with a trailing byte`);
  }
});

test('impossible values are refused: NaN, fractions, a term below an entry term, bad UTF-8', () => {
  const hb = Buffer.from(encodeMessage(sampleFrames[3] as Frame, tag));
  const termAt = 10 + 2 + 1 + 1; // header, two 1-byte ids
  for (const v of [Number.NaN, 1.5, -1, 2 ** 53]) {
    const b = Buffer.from(hb);
    b.writeDoubleBE(v, termAt);
    assert.equal((decodeMessage(b, tag) as { reason: string }).reason, 'invalid', String(v));
  }
  const badEntryTerm: Message = {
    type: 'append',
    from: 'a',
    to: 'b',
    term: 2,
    prevIndex: 0,
    prevTerm: 0,
    commit: 0,
    entries: [{ index: 1, term: 3, kind: 'command', data: bytes(1) }],
  };
  assert.equal(
    (decodeMessage(encodeMessage(badEntryTerm, tag), tag) as { reason: string }).reason,
    'invalid',
  );
  const badId = Buffer.from(hb);
  badId[11] = 0xff; // the sender id's only byte
  assert.equal((decodeMessage(badId, tag) as { reason: string }).reason, 'invalid');
});

test('random bytes and mutated frames never throw, and what decodes is a valid message', () => {
  const valid = sampleFrames.map((f) => encodeMessage(f, tag));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc
          .tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 0, max: 255 }))
          .map(([b, at, v]) => {
            const copy = Buffer.from(b);
            copy[at % copy.length] = v;
            return copy;
          }),
      ),
      (input) => {
        const r = decodeMessage(input, tag);
        if (isDecodeFailure(r)) return;
        // The node's own frames have their own checks; a Raft message passed the core's.
        if (!(messageTypes as readonly string[]).includes(r.type)) return;
        assert.equal(checkMessageShape(r), undefined);
      },
    ),
    { ...propertySeed(), numRuns: 3000 },
  );
});

test('the frame reader reassembles bodies however the stream is split', () => {
  const bodies = sampleFrames.map((f) => encodeMessage(f, tag));
  const stream = Buffer.concat(bodies.flatMap((b) => [lengthPrefix(b), b]));
  fc.assert(
    fc.property(fc.array(fc.nat({ max: stream.length }), { maxLength: 12 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const reader = new FrameReader(16 * 1024);
      const out: Buffer[] = [];
      let from = 0;
      for (const p of [...points, stream.length]) {
        out.push(...reader.push(stream.subarray(from, p)));
        from = p;
      }
      assert.deepEqual(
        out.map((b) => b.toString('hex')),
        bodies.map((b) => b.toString('hex')),
      );
      assert.equal(reader.buffered, 0);
    }),
    { ...propertySeed(), numRuns: 300 },
  );
});

test('an oversized or zero length prefix fails the reader for good', () => {
  const reader = new FrameReader(100);
  assert.throws(() => reader.push(Buffer.from([0, 0, 0, 101])), FrameTooLargeError);
  assert.throws(() => reader.push(Buffer.from([0, 0, 0, 1, 7])), FrameTooLargeError);
  assert.throws(() => new FrameReader(100).push(Buffer.from([0, 0, 0, 0])), FrameTooLargeError);
  // A prefix split across chunks is still read whole before judging it.
  const split = new FrameReader(100);
  assert.deepEqual(split.push(Buffer.from([0, 0])), []);
  assert.throws(() => split.push(Buffer.from([0xff, 0xff])), FrameTooLargeError);
});

test('sealed frames open only with the same secret and cluster id', () => {
  const secret = 'correct horse battery staple';
  const a = new FrameCipher(secret, 'c1');
  const body = encodeMessage(sampleFrames[0] as Frame, tag);
  const sealed = a.seal(body);
  assert.deepEqual(new FrameCipher(secret, 'c1').open(sealed), body);
  assert.equal(new FrameCipher('another secret of length', 'c1').open(sealed), null);
  assert.equal(new FrameCipher(secret, 'c2').open(sealed), null);
  const flipped = Buffer.from(sealed);
  flipped[20] = (flipped[20] as number) ^ 1;
  assert.equal(a.open(flipped), null);
  assert.equal(a.open(sealed.subarray(0, 20)), null);
  assert.notDeepEqual(a.seal(body), sealed, 'a nonce was reused');
  assert.throws(() => new FrameCipher('short', 'c1'), /at least 16 bytes/);
});

test('drops are counted each time but logged at most once per interval per reason', () => {
  let now = 0;
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  const codec = new WireCodec({
    now: () => now,
    logIntervalMs: 1000,
    logger: {
      warn: (fields, message) => lines.push({ fields: fields as Record<string, unknown>, message }),
    },
  });
  for (let i = 0; i < 500; i++)
    assert.equal(codec.decode(Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9), 'x'), null);
  codec.decode(Uint8Array.of(1), 'x'); // another reason gets its own line
  now = 1500;
  codec.decode(Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9), 'x');
  assert.equal(codec.stats().dropped.version, 501);
  assert.equal(codec.stats().dropped.truncated, 1);
  assert.deepEqual(
    lines.map((l) => [l.fields.reason, l.fields.suppressed]),
    [
      ['version', 0],
      ['truncated', 0],
      ['version', 499],
    ],
  );
});

test('reconnection backoff doubles from min to max, jittered within the upper half, and resets', () => {
  const b = new Backoff({ minMs: 50, maxMs: 400 });
  const low = [0, 0, 0, 0, 0].map(() => b.next(() => 0));
  assert.deepEqual(low, [25, 50, 100, 200, 200]);
  b.reset();
  const high = [0, 0, 0, 0, 0].map(() => b.next(() => 1));
  assert.deepEqual(high, [50, 100, 200, 400, 400]);
  b.reset();
  assert.equal(
    b.next(() => 0.5),
    38,
  );
});
