/**
 * @module
 * JSON written as it is produced, for reports too large to hold as one string (`inspect` of
 * a node with hundreds of thousands of entries and keys). The output is what
 * `JSON.stringify(value, null, 2)` gives, with two kinds of lazy parts: `LazyArray` and
 * `LazyObject`, whose items come from an iterator only as they are written.
 */

/** An array whose items are produced while it is written. */
export class LazyArray {
  constructor(readonly items: () => Iterable<unknown>) {}
}

/** An object whose `[key, value]` pairs are produced while it is written. */
export class LazyObject {
  constructor(readonly pairs: () => Iterable<readonly [string, unknown]>) {}
}

/** Bytes gathered before each call of `write`. */
const CHUNK_CHARS = 64 * 1024;

/** Writes `value` as indented JSON (and a newline) through `write`, in chunks. */
export function writeJson(value: unknown, write: (text: string) => void): void {
  let buffer = '';
  const emit = (text: string) => {
    buffer += text;
    if (buffer.length >= CHUNK_CHARS) {
      write(buffer);
      buffer = '';
    }
  };
  writeValue(value, '', emit);
  write(`${buffer}\n`);
}

function writeValue(value: unknown, indent: string, emit: (text: string) => void): void {
  if (value instanceof LazyArray) {
    writeItems(value.items(), '[', ']', indent, emit, (item, inner) => {
      writeValue(item, inner, emit);
    });
  } else if (value instanceof LazyObject) {
    writePairs(value.pairs(), indent, emit);
  } else if (Array.isArray(value)) {
    writeItems(value, '[', ']', indent, emit, (item, inner) => {
      // As JSON.stringify does: what JSON cannot hold in an array becomes null.
      writeValue(item === undefined || typeof item === 'function' ? null : item, inner, emit);
    });
  } else if (value !== null && typeof value === 'object' && !hasToJson(value)) {
    const pairs = Object.entries(value).filter(
      ([, v]) => v !== undefined && typeof v !== 'function',
    );
    writePairs(pairs, indent, emit);
  } else {
    emit(JSON.stringify(value) ?? 'null');
  }
}

function hasToJson(value: object): boolean {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}

function writePairs(
  pairs: Iterable<readonly [string, unknown]>,
  indent: string,
  emit: (text: string) => void,
): void {
  writeItems(pairs, '{', '}', indent, emit, ([key, v], inner) => {
    emit(`${JSON.stringify(key)}: `);
    writeValue(v, inner, emit);
  });
}

function writeItems<T>(
  items: Iterable<T>,
  open: string,
  close: string,
  indent: string,
  emit: (text: string) => void,
  each: (item: T, inner: string) => void,
): void {
  const inner = `${indent}  `;
  let first = true;
  for (const item of items) {
    emit(first ? `${open}\n${inner}` : `,\n${inner}`);
    first = false;
    each(item, inner);
  }
  emit(first ? `${open}${close}` : `\n${indent}${close}`);
}
