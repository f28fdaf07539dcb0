/**
 * Record framing: round trips, and decoding of any bytes at all returns a reason instead of
 * throwing or inventing a record.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeRecord,
  encodeRecord,
  recordBytes,
  type WalRecord,
} from '../../src/storage/record.js';
import { decodeSegmentHeader, encodeSegmentHeader } from '../../src/storage/segment.js';
import { propertySeed } from '../support/property.js';

const index = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const record: fc.Arbitrary<WalRecord> = fc.oneof(
  fc.record({
    type: fc.constant('entry' as const),
    entry: fc.record({
      index,
      term: index,
      kind: fc.constantFrom('command' as const, 'noop' as const),
      data: fc.uint8Array({ maxLength: 300 }),
    }),
  }),
  fc.record({ type: fc.constant('truncate' as const), from: index }),
  fc.record({ type: fc.constant('commit' as const), index: fc.nat() }),
);

/** Plain values (fast-check builds objects without a prototype). */
function normal(r: WalRecord): unknown {
  return r.type === 'entry' ? { ...r.entry, data: [...r.entry.data] } : { ...r };
}

describe('write-ahead log records', () => {
  test('every record decodes back to itself, at any offset', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 10 }), fc.nat(16), (records, pad) => {
        const size = pad + records.reduce((n, r) => n + recordBytes(r), 0);
        const out = new Uint8Array(size);
        let at = pad;
        for (const r of records) at = encodeRecord(out, at, r);
        at = pad;
        for (const r of records) {
          const decoded = decodeRecord(out, at);
          assert.ok(decoded.ok);
          assert.deepEqual(normal(decoded.record), normal(r));
          at = decoded.end;
        }
      }),
      propertySeed(),
    );
  });

  test('any damage to a record is detected, never decoded into another record', () => {
    fc.assert(
      fc.property(record, fc.nat(), fc.integer({ min: 1, max: 255 }), (r, position, mask) => {
        const out = new Uint8Array(recordBytes(r));
        encodeRecord(out, 0, r);
        const at = position % out.byteLength;
        out[at] = (out[at] as number) ^ mask;
        assert.equal(decodeRecord(out, 0).ok, false);
      }),
      propertySeed(),
    );
  });

  test('arbitrary bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(100), (bytes, at) => {
        const decoded = decodeRecord(bytes, Math.min(at, bytes.byteLength));
        if (!decoded.ok) assert.equal(typeof decoded.reason, 'string');
        const header = decodeSegmentHeader(bytes);
        assert.equal(typeof header, 'string');
      }),
      propertySeed(),
    );
  });

  test('a torn record is reported as incomplete; a short segment header as such', () => {
    const r: WalRecord = { type: 'commit', index: 7 };
    const out = new Uint8Array(recordBytes(r));
    encodeRecord(out, 0, r);
    for (let cut = 0; cut < out.byteLength; cut++) {
      const decoded = decodeRecord(out.subarray(0, cut), 0);
      assert.deepEqual(
        [decoded.ok, !decoded.ok && decoded.incomplete],
        [false, true],
        `cut ${cut}`,
      );
    }
    const header = encodeSegmentHeader({ sequence: 3, firstIndex: 10, prevTerm: 2 });
    assert.deepEqual(decodeSegmentHeader(header), {
      sequence: 3,
      firstIndex: 10,
      prevTerm: 2,
      restart: false,
    });
    const restart = encodeSegmentHeader({
      sequence: 4,
      firstIndex: 91,
      prevTerm: 5,
      restart: true,
    });
    assert.equal((decodeSegmentHeader(restart) as { restart: boolean }).restart, true);
    assert.match(String(decodeSegmentHeader(header.subarray(0, 20))), /found only 20 bytes/);
  });
});
