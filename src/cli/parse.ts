/**
 * @module
 * Flag values checked as commander parses them, so a wrong one is a one-line error.
 */
import { InvalidArgumentError } from 'commander';
import { parseAddress } from '../transport/address.js';

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('expected a positive integer.');
  }
  return n;
}

export function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('expected an integer of at least 0.');
  }
  return n;
}

export function port(value: string): number {
  const n = positiveInteger(value);
  if (n > 65535) throw new InvalidArgumentError('expected a port (1 to 65535).');
  return n;
}

export function hostPort(value: string): string {
  try {
    parseAddress(value);
  } catch {
    throw new InvalidArgumentError('expected HOST:PORT.');
  }
  return value;
}

export function hostPortList(value: string): string[] {
  if (value.trim() === '') return [];
  return value.split(',').map((a) => hostPort(a.trim()));
}

export function oneOf<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}.`);
    }
    return value as T;
  };
}
