/**
 * @module
 * `host:port` addresses, IPv6 in brackets (`[::1]:8000`), checked once at configuration.
 */
import { InvalidConfigError } from '../core/index.js';

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
