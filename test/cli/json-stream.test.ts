import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LazyArray, LazyObject, writeJson } from '../../src/cli/json-stream.js';
import { propertySeed } from '../support/property.js';

const written = (value: unknown): string => {
  let out = '';
  writeJson(value, (text) => {
    out += text;
  });
  return out;
};

test('writeJson writes what JSON.stringify(value, null, 2) gives, in chunks', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      assert.equal(written(value), `${JSON.stringify(value, null, 2)}\n`);
    }),
    { ...propertySeed(), numRuns: 500 },
  );
  // What JSON leaves out or turns into null, as JSON.stringify does.
  const odd = { a: undefined, b: [undefined, () => 1], c: new Date(0), d: () => 2 };
  assert.equal(written(odd), `${JSON.stringify(odd, null, 2)}\n`);
});

test('lazy parts are produced while written, and read as the eager ones', () => {
  let produced = 0;
  const items = new LazyArray(function* () {
    for (let i = 0; i < 3; i++) {
      produced++;
      yield { i };
    }
  });
  const pairs = new LazyObject(() => [['k', 1] as const, ['l', [2]] as const]);
  assert.equal(produced, 0);
  const text = written({ items, pairs, none: new LazyArray(() => []) });
  assert.equal(produced, 3);
  const eager = { items: [{ i: 0 }, { i: 1 }, { i: 2 }], pairs: { k: 1, l: [2] }, none: [] };
  assert.equal(text, `${JSON.stringify(eager, null, 2)}\n`);
  // A large lazy array goes out in several writes, not one string.
  let writes = 0;
  writeJson(
    new LazyArray(function* () {
      for (let i = 0; i < 50_000; i++) yield `item ${i}`;
    }),
    () => {
      writes++;
    },
  );
  assert.ok(writes > 10, `${writes} writes`);
});
