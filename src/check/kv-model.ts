/**
 * @module
 * The sequential specification of the key-value store, one register per key: what each
 * operation answers, given what came before. Keys are independent, so histories are checked
 * per key.
 */
import type { HistoryOperation, Model } from './linearizability.js';

export type KvInput =
  | { readonly key: string; readonly op: 'get' }
  | { readonly key: string; readonly op: 'put'; readonly value: string }
  | { readonly key: string; readonly op: 'del' }
  | {
      readonly key: string;
      readonly op: 'cas';
      readonly expected: string | null;
      readonly value: string | null;
    };

/** get: the value or null; put: null; del: whether the key existed; cas: whether it swapped. */
export type KvOutput = string | null | boolean;

type Value = string | null;

export const kvModel: Model<Value, KvInput, KvOutput> = {
  init: () => null,
  step(state, input) {
    switch (input.op) {
      case 'get':
        return { state, output: state };
      case 'put':
        return { state: input.value, output: null };
      case 'del':
        return { state: null, output: state !== null };
      case 'cas':
        return state === input.expected
          ? { state: input.value, output: true }
          : { state, output: false };
    }
  },
  equal: (a, b) => a === b,
  readOnly: (input) => input.op === 'get',
  describe(input, output) {
    const answer = output === undefined ? '' : ` -> ${JSON.stringify(output)}`;
    switch (input.op) {
      case 'get':
        return `get ${input.key}${answer}`;
      case 'put':
        return `put ${input.key}=${JSON.stringify(input.value)}${answer && ' -> ok'}`;
      case 'del':
        return `del ${input.key}${answer}`;
      case 'cas':
        return `cas ${input.key} ${JSON.stringify(input.expected)}->${JSON.stringify(input.value)}${answer}`;
    }
  },
  hash: (state) => (state === null ? '\u0000' : `=${state}`),
  partition(ops: readonly HistoryOperation<KvInput, KvOutput>[]) {
    const byKey = new Map<string, HistoryOperation<KvInput, KvOutput>[]>();
    for (const op of ops) {
      const list = byKey.get(op.input.key);
      if (list === undefined) byKey.set(op.input.key, [op]);
      else list.push(op);
    }
    return [...byKey.values()];
  },
};
