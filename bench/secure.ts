/**
 * What securing the client API costs: three `raftkit node` processes on loopback in each of
 * three set-ups, driven by one RaftkitClient, in rounds that take the set-ups in turn (so that
 * the machine's noise falls on all of them alike):
 *
 *   plain    HTTP, no auth
 *   token    HTTP with bearer tokens (a write token)
 *   https    HTTPS (the server's certificate only)
 *   mtls     HTTPS with client certificates
 *   secured  HTTPS with client certificates and bearer tokens
 *
 * Puts of 256-byte values and linearizable gets, both at concurrency 64. Prints, per set-up,
 * the median of the rounds and their range, and the ratio to `plain`; writes
 * bench/results/secure.json.
 *
 *   npm run bench:secure [-- --seconds 3] [-- --rounds 3]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { newToken, RaftkitClient } from '../src/kv/index.js';
import { newCertificate, newCertificateAuthority } from '../src/transport/index.js';
import { NodeProcess } from '../src/verify/index.js';
import { freePorts } from '../test/support/ports.js';
import { flag } from './args.js';
import { closedLoop, median, spread } from './load.js';

const SECONDS = Number(flag('--seconds') ?? 3);
const ROUNDS = Number(flag('--rounds') ?? 3);
const CONCURRENCY = 64;
const value = 'v'.repeat(256);
const parent = resolve('bench/results');
mkdirSync(parent, { recursive: true });
const dir = mkdtempSync(join(parent, 'secure-bench-'));

const ca = newCertificateAuthority();
const server = newCertificate(ca, { commonName: 'node', names: ['127.0.0.1'], usage: 'server' });
const client = newCertificate(ca, { commonName: 'bench', usage: 'client' });
const { token, hash } = await newToken('bench');
const authFile = join(dir, 'auth.json');
const files = {
  ca: join(dir, 'ca.pem'),
  cert: join(dir, 'node.pem'),
  key: join(dir, 'node-key.pem'),
};
writeFileSync(files.ca, ca.cert);
writeFileSync(files.cert, server.cert);
writeFileSync(files.key, server.key);
writeFileSync(authFile, JSON.stringify({ tokens: [{ name: 'bench', role: 'write', hash }] }));

interface Setup {
  readonly name: string;
  readonly flags: string[];
  readonly client: Pick<ConstructorParameters<typeof RaftkitClient>[0], 'token' | 'tls'>;
}

const serverTls = ['--http-tls-cert', files.cert, '--http-tls-key', files.key];
const clientCertificate = { ca: ca.cert, cert: client.cert, key: client.key };
const setups: Setup[] = [
  { name: 'plain', flags: [], client: {} },
  { name: 'token', flags: ['--auth-file', authFile], client: { token } },
  { name: 'https', flags: serverTls, client: { tls: { ca: ca.cert } } },
  {
    name: 'mtls',
    flags: [...serverTls, '--http-tls-ca', files.ca],
    client: { tls: clientCertificate },
  },
  {
    name: 'secured',
    flags: [...serverTls, '--http-tls-ca', files.ca, '--auth-file', authFile],
    client: { tls: clientCertificate, token },
  },
];

interface Measured {
  put: number[];
  get: number[];
  putP99: number[];
  getP99: number[];
  errors: number;
}

async function round(setup: Setup, measured: Measured): Promise<void> {
  const ports = await freePorts(6);
  const raft = ports.slice(0, 3).map((p) => `127.0.0.1:${p}`);
  const scheme = setup.client.tls === undefined ? 'http' : 'https';
  const data = join(dir, `${setup.name}-${measured.put.length}`);
  mkdirSync(data);
  const nodes = [0, 1, 2].map(
    (i) =>
      new NodeProcess({
        index: i,
        raft: raft[i] as string,
        http: `127.0.0.1:${ports[3 + i]}`,
        url: `${scheme}://127.0.0.1:${ports[3 + i]}`,
        peers: raft,
        dir: data,
        extra: ['--log-level', 'warn', ...setup.flags],
      }),
  );
  const kv = new RaftkitClient({
    endpoints: nodes.map((n) => n.url),
    maxSockets: 512,
    ...setup.client,
  });
  try {
    for (const n of nodes) n.start();
    const deadline = performance.now() + 20_000;
    for (;;) {
      const s = await kv.status({ timeoutMs: 2000 }).catch(() => null);
      if (s?.role === 'leader') break;
      if (performance.now() > deadline) throw new Error(`${setup.name}: no leader in 20 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await kv.put('warm-up', value);
    const puts = await closedLoop(CONCURRENCY, SECONDS, (w, n) =>
      kv.put(`k${w}-${n % 100}`, value),
    );
    const gets = await closedLoop(CONCURRENCY, SECONDS, (w, n) => kv.get(`k${w}-${n % 100}`));
    measured.put.push(puts.perSecond);
    measured.get.push(gets.perSecond);
    measured.putP99.push(puts.p99Ms);
    measured.getP99.push(gets.p99Ms);
    measured.errors += puts.errors + gets.errors;
  } finally {
    kv.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(nodes.map((n) => n.close()));
  }
}

try {
  const results = new Map<string, Measured>(
    setups.map((s) => [s.name, { put: [], get: [], putP99: [], getP99: [], errors: 0 }]),
  );
  for (let r = 0; r < ROUNDS; r++) {
    for (const setup of setups) await round(setup, results.get(setup.name) as Measured);
    console.log(`round ${r + 1}/${ROUNDS} done`);
  }
  const base = results.get('plain') as Measured;
  console.log(
    `${cpus().length} cores, ${ROUNDS} rounds of ${SECONDS} s, concurrency ${CONCURRENCY}, 256-byte values`,
  );
  console.log(
    'setup     put/s (range)        get/s (range)        put p99 ms  get p99 ms  vs plain (put, get)  errors',
  );
  const rows = setups.map((s) => {
    const m = results.get(s.name) as Measured;
    const row = {
      setup: s.name,
      putPerSecond: Math.round(median(m.put)),
      putRange: spread(m.put),
      getPerSecond: Math.round(median(m.get)),
      getRange: spread(m.get),
      putP99Ms: median(m.putP99),
      getP99Ms: median(m.getP99),
      putRatio: median(m.put) / median(base.put),
      getRatio: median(m.get) / median(base.get),
      errors: m.errors,
    };
    console.log(
      `${s.name.padEnd(8)}  ${`${row.putPerSecond} (${row.putRange})`.padEnd(19)}  ${`${row.getPerSecond} (${row.getRange})`.padEnd(19)}  ${row.putP99Ms.toFixed(1).padStart(10)}  ${row.getP99Ms.toFixed(1).padStart(10)}  ${`${row.putRatio.toFixed(2)}, ${row.getRatio.toFixed(2)}`.padStart(19)}  ${m.errors}`,
    );
    return row;
  });
  writeFileSync(
    join(parent, 'secure.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: cpus().length, seconds: SECONDS, rounds: ROUNDS, concurrency: CONCURRENCY, rows }, null, 2)}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
