/**
 * @module
 * `host:port` addresses, IPv6 in brackets (`[::1]:8000`), checked once at configuration.
 */
import { InvalidConfigError } from '../core/errors.js';
import { MAX_ID_BYTES } from './wire.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function parseAddress(address: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  const port = Number(m?.[3]);
  if (m === null || port > 65535) {
    throw new InvalidConfigError(`address ${JSON.stringify(address)} is not host:port`);
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

export function formatAddress({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A socket transport's own id and listen address, checked at construction. */
export function checkEndpoint(id: unknown, listen: string): void {
  if (typeof id !== 'string' || id === '' || Buffer.byteLength(id) > MAX_ID_BYTES) {
    throw new InvalidConfigError(`transport id must be 1 to ${MAX_ID_BYTES} bytes`);
  }
  parseAddress(listen);
}
