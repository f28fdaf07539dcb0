/**
 * @module
 * The operations replicated objects put in the log: each names its object and carries only
 * what changes (raftos sent a whole dict through the log on every update). Decoded ops from
 * the log are checked before they touch any state.
 */

export type Operation =
  | { readonly t: 'value'; readonly n: string; readonly o: 'set'; readonly v: unknown }
  | {
      readonly t: 'map';
      readonly n: string;
      readonly o: 'set';
      readonly k: string;
      readonly v: unknown;
    }
  | {
      readonly t: 'map';
      readonly n: string;
      readonly o: 'update';
      readonly e: readonly (readonly [string, unknown])[];
    }
  | { readonly t: 'map'; readonly n: string; readonly o: 'delete' | 'pop'; readonly k: string }
  | { readonly t: 'list'; readonly n: string; readonly o: 'append'; readonly v: unknown }
  | {
      readonly t: 'list';
      readonly n: string;
      readonly o: 'extend';
      readonly vs: readonly unknown[];
    };

export type ObjectKind = Operation['t'];

/** Longest object name, in characters. */
export const MAX_NAME_LENGTH = 1024;

/** The operation in `value`, or a reason why it is not one. */
export function checkOperation(value: unknown): Operation | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const op = value as Record<string, unknown>;
  if (typeof op.n !== 'string' || op.n.length === 0 || op.n.length > MAX_NAME_LENGTH) {
    return 'the object name must be a string of 1 to 1024 characters';
  }
  const has = (key: string): boolean => Object.hasOwn(op, key);
  switch (`${String(op.t)}.${String(op.o)}`) {
    case 'value.set':
      return has('v') ? (op as Operation) : 'value.set without a value';
    case 'map.set':
      return typeof op.k === 'string' && has('v')
        ? (op as Operation)
        : 'map.set needs a key and a value';
    case 'map.update':
      if (!Array.isArray(op.e)) return 'map.update needs entries';
      for (const e of op.e) {
        if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string') {
          return 'map.update entries must be [key, value] pairs with string keys';
        }
      }
      return op as Operation;
    case 'map.delete':
    case 'map.pop':
      return typeof op.k === 'string' ? (op as Operation) : `map.${String(op.o)} needs a key`;
    case 'list.append':
      return has('v') ? (op as Operation) : 'list.append without a value';
    case 'list.extend':
      return Array.isArray(op.vs) ? (op as Operation) : 'list.extend needs an array of values';
    default:
      return `unknown operation ${String(op.t)}.${String(op.o)}`;
  }
}
