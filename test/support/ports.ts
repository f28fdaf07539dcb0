/**
 * Free loopback ports for tests whose members must know each other's addresses up front:
 * bound on port 0 all at once (so they differ), read, and released.
 */
import dgram from 'node:dgram';
import net from 'node:net';

export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  // The same port must be free for UDP too, where the UDP transport will bind.
  const probes = await Promise.all(
    ports.map(
      (port) =>
        new Promise<dgram.Socket | null>((resolve) => {
          const u = dgram.createSocket('udp4');
          u.once('error', () => resolve(null));
          u.bind(port, '127.0.0.1', () => resolve(u));
        }),
    ),
  );
  await Promise.all(
    probes.map((u) => (u === null ? undefined : new Promise<void>((r) => u.close(() => r())))),
  );
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  if (probes.includes(null)) return freePorts(count);
  return ports;
}

/** Resolves once `check()` holds, polling; rejects after `timeoutMs`. */
export async function eventually(
  check: () => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `count` consecutive free loopback TCP ports (for programs that take a base port). */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const servers: net.Server[] = [];
    try {
      for (let p = base; p < base + count; p++) {
        servers.push(
          await new Promise<net.Server>((resolve, reject) => {
            const s = net.createServer();
            s.once('error', reject);
            s.listen(p, '127.0.0.1', () => resolve(s));
          }),
        );
      }
      return base;
    } catch {
      // Taken: try another range.
    } finally {
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    }
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/**
 * Resolves with what the asynchronous `probe` found once it finds something (neither
 * undefined nor false), asking every 100 ms; a probe that throws (a node down) is asked
 * again. Rejects after `ms`, with the probe's last error if it had one.
 */
export async function until<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown = null;
  for (;;) {
    const found = await probe().catch((e: unknown) => {
      last = e;
      return undefined;
    });
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new Error(`timed out waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
