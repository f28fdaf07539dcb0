/**
 * The security commands as an operator uses them, with the built bin: `raftkit certs` and
 * `raftkit auth add` make the files; a `raftkit node` serves HTTPS with client certificates
 * and tokens; the client commands take `--cacert/--cert/--key` and a token from `--token-file`
 * or `RAFTKIT_TOKEN`; `raftkit cluster --tls` runs its peers over mutual TLS.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { freePortRange, freePorts } from '../support/ports.js';
import { bin, outputMatching, type Ran, raftkit, stopTree } from '../support/raftkit.js';

async function run(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], {
      timeout: 20_000,
      env: { ...process.env, RAFTKIT_TOKEN: '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('raftkit certs, auth add, and a node with HTTPS and tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-sec-'));
  const certs = join(dir, 'certs');
  const authFile = join(dir, 'auth.json');
  let node: ChildProcess;
  let url: string;
  const tokens: Record<string, string> = {};
  const tlsFlags = () => [
    ...['--cacert', join(certs, 'ca.pem')],
    ...['--cert', join(certs, 'ops.pem'), '--key', join(certs, 'ops-key.pem')],
  ];

  before(async () => {
    const made = await raftkit(
      ...['certs', '--out', certs, '--node', '127.0.0.1,localhost', '--client', 'ops'],
    );
    assert.equal(made.code, 0, made.stderr);
    for (const role of ['read', 'write', 'admin']) {
      const r = await raftkit('auth', 'add', authFile, '--name', role, '--role', role);
      assert.equal(r.code, 0, r.stderr);
      tokens[role] = r.stdout.trim();
    }
    const [raftPort, httpPort] = await freePorts(2);
    url = `https://127.0.0.1:${httpPort}`;
    node = spawn(
      process.execPath,
      [
        bin,
        'node',
        ...['--listen', `127.0.0.1:${raftPort}`, '--peers', `127.0.0.1:${raftPort}`],
        ...['--data', join(dir, 'data'), '--http', `127.0.0.1:${httpPort}`],
        ...['--http-tls-cert', join(certs, '127.0.0.1.pem')],
        ...['--http-tls-key', join(certs, '127.0.0.1-key.pem')],
        ...['--http-tls-ca', join(certs, 'ca.pem'), '--auth-file', authFile],
        ...['--heartbeat-ms', '50', '--election-ms', '300'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await outputMatching(node, /HTTP on https:\/\/127\.0\.0\.1:\d+/, 15_000, true);
  });
  after(async () => {
    if (node !== undefined) await stopTree(node);
    rmSync(dir, { recursive: true, force: true });
  });

  test('certs: a CA, a node certificate for its names, a client certificate; keys 0600; nothing replaced', async () => {
    const ca = new X509Certificate(readFileSync(join(certs, 'ca.pem')));
    const leaf = new X509Certificate(readFileSync(join(certs, '127.0.0.1.pem')));
    const client = new X509Certificate(readFileSync(join(certs, 'ops.pem')));
    assert.ok(ca.ca);
    assert.ok(leaf.verify(ca.publicKey) && client.verify(ca.publicKey));
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(leaf.checkHost('localhost'), 'localhost');
    assert.deepEqual(client.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    for (const key of ['ca-key.pem', '127.0.0.1-key.pem', 'ops-key.pem']) {
      assert.equal(statSync(join(certs, key)).mode & 0o777, 0o600, key);
    }
    const again = await raftkit('certs', '--out', certs, '--node', '127.0.0.1');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists already; not replaced/);
    // A bad name anywhere leaves nothing behind (found from outside: the CA was written first).
    const fresh = join(dir, 'fresh');
    const bad = await raftkit('certs', '--out', fresh, '--node', 'ok', '--node', 'bad name');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"bad name" is neither a host name nor an IP address/);
    assert.ok(!existsSync(fresh));
  });

  test('auth add: the file holds hashes, not tokens; a name is not added twice', async () => {
    const text = readFileSync(authFile, 'utf8');
    for (const token of Object.values(tokens)) {
      assert.match(token, /^raftkit\.(read|write|admin)\.[A-Za-z0-9_-]{43}$/);
      assert.ok(!text.includes(token.split('.')[2] as string));
    }
    assert.equal(statSync(authFile).mode & 0o777, 0o600);
    const twice = await raftkit('auth', 'add', authFile, '--name', 'read', '--role', 'admin');
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /has a token named read already/);
  });

  test('client commands over HTTPS with a client certificate and a token from a file or the environment', async () => {
    const write = join(dir, 'write.token');
    // A token file as an operator writes it: with a newline.
    writeFileSync(write, `${tokens.write}\n`, { mode: 0o600 });
    const put = await run([
      'put',
      'a',
      '1',
      '--endpoints',
      url,
      ...tlsFlags(),
      '--token-file',
      write,
    ]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /^\{"index":\d+\}/);
    const get = await run(['get', 'a', '--endpoints', url, ...tlsFlags()], {
      RAFTKIT_TOKEN: tokens.read,
    });
    assert.equal(get.code, 0, get.stderr);
    assert.equal(JSON.parse(get.stdout).value, '1');
    const forbidden = await run(['put', 'a', '2', '--endpoints', url, ...tlsFlags()], {
      RAFTKIT_TOKEN: tokens.read,
    });
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /403 .*the read role; POST \/v1\/sessions needs write/);
    const none = await run(['get', 'a', '--endpoints', url, ...tlsFlags()]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /401 .*needs a token/);
    const noCert = await run(['get', 'a', '--endpoints', url, '--cacert', join(certs, 'ca.pem')], {
      RAFTKIT_TOKEN: tokens.read,
    });
    assert.equal(noCert.code, 1);
    assert.match(noCert.stderr, /401 .*client certificate/);
    const status = await run(['status', '--endpoints', url, ...tlsFlags()], {
      RAFTKIT_TOKEN: tokens.read,
    });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).role, 'leader');
  });

  test('a node joins the secured cluster with an admin token and a client certificate', async () => {
    const adminToken = join(dir, 'admin.token');
    writeFileSync(adminToken, tokens.admin as string, { mode: 0o600 });
    const [raftPort, httpPort] = await freePorts(2);
    const joiner = spawn(
      process.execPath,
      [
        bin,
        'node',
        ...['--listen', `127.0.0.1:${raftPort}`, '--join', url, '--data', join(dir, 'joiner')],
        ...['--http', `127.0.0.1:${httpPort}`, ...tlsFlags(), '--token-file', adminToken],
        ...['--http-tls-cert', join(certs, '127.0.0.1.pem')],
        ...['--http-tls-key', join(certs, '127.0.0.1-key.pem'), '--auth-file', authFile],
        ...['--heartbeat-ms', '50', '--election-ms', '300'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await outputMatching(joiner, /joined as voter/, 20_000, true);
      const list = await run(['member', 'list', '--endpoints', url, ...tlsFlags()], {
        RAFTKIT_TOKEN: tokens.read,
      });
      assert.equal(list.code, 0, list.stderr);
      const voters = (JSON.parse(list.stdout) as { voters: { id: string }[] }).voters;
      assert.equal(voters.length, 2);
      assert.ok(voters.some((v) => v.id === `127.0.0.1:${raftPort}`));
      // Without the admin token, a join is refused and says why.
      const [p2, h2] = await freePorts(2);
      const refused = await run(
        [
          'node',
          ...['--listen', `127.0.0.1:${p2}`, '--join', url, '--data', join(dir, 'refused')],
          ...['--http', `127.0.0.1:${h2}`, ...tlsFlags()],
        ],
        { RAFTKIT_TOKEN: tokens.write },
      );
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /could not join: 403 .*needs admin/);
    } finally {
      await stopTree(joiner);
    }
  });

  test('a token is never taken from a flag value; a missing token file is one line', async () => {
    const r = await run(['get', 'a', '--endpoints', url, ...tlsFlags(), '--token', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown option '--token'/);
    const missing = await run([
      'get',
      'a',
      '--endpoints',
      url,
      ...tlsFlags(),
      '--token-file',
      join(dir, 'nope'),
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^raftkit: cannot read the token file .*nope: ENOENT\n$/);
  });

  test('node flags that do not go together are refused before anything starts', async () => {
    const [p] = await freePorts(1);
    const base = ['node', '--listen', `127.0.0.1:${p}`, '--peers', `127.0.0.1:${p}`];
    const cases: [string[], RegExp][] = [
      [
        ['--http-tls-cert', join(certs, 'ca.pem')],
        /--http-tls-cert and --http-tls-key come together/,
      ],
      [['--http-tls-ca', join(certs, 'ca.pem')], /--http-tls-ca needs --http-tls-cert/],
      [['--open-probes'], /--open-probes goes with --auth-file or --http-tls-ca/],
      [['--auth-file', join(certs, 'ca.pem')], /auth file .*ca\.pem: not JSON/],
      [['--http-header-timeout-ms', '5000', '--http-body-timeout-ms', '1000'], /cannot be above/],
    ];
    for (const [flags, message] of cases) {
      const data = join(dir, `refused-${flags[0]}`);
      const r = await raftkit(...base, '--data', data, ...flags);
      assert.equal(r.code, 1, flags.join(' '));
      assert.match(r.stderr, message);
      assert.ok(!existsSync(join(data, 'log')), `${flags.join(' ')}: no data written`);
    }
  });
});

describe('raftkit cluster --tls', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-tls-'));
  let cluster: ChildProcess;
  let base: number;

  before(async () => {
    base = await freePortRange(6);
    cluster = spawn(
      process.execPath,
      [
        bin,
        'cluster',
        '--tls',
        '--base-port',
        String(base),
        '--http-base-port',
        String(base + 3),
      ].concat(['--data', dir, '--heartbeat-ms', '50', '--election-ms', '300']),
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await outputMatching(cluster, /ready: 3 nodes/, 30_000, true);
  });
  after(async () => {
    if (cluster !== undefined) await stopTree(cluster);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the peers speak mutual TLS with the throwaway CA; the cluster replicates', async () => {
    const ca = readFileSync(join(dir, 'tls', 'ca.pem'), 'utf8');
    const cert = readFileSync(join(dir, 'tls', 'node1.pem'), 'utf8');
    const key = readFileSync(join(dir, 'tls', 'node1-key.pem'), 'utf8');
    // With the CA and a node's certificate: a TLS handshake, authorized both ways.
    const authorized = await new Promise<boolean>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: base + 1, ca, cert, key }, () => {
        resolve(s.authorized);
        s.destroy();
      });
      s.once('error', reject);
    });
    assert.equal(authorized, true);
    // Without a certificate: refused.
    const refused = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: base + 1, ca }, () => {
        s.once('data', () => resolve('data'));
      });
      s.once('error', (e) => resolve(e.message));
      s.once('close', () => resolve('closed'));
    });
    assert.notEqual(refused, 'data');
    const endpoints = `--endpoints=http://127.0.0.1:${base + 3},http://127.0.0.1:${base + 4}`;
    const put = await raftkit('put', 'secure', 'yes', endpoints);
    assert.equal(put.code, 0, put.stderr);
    const get = await raftkit('get', 'secure', `--endpoints=http://127.0.0.1:${base + 5}`);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(JSON.parse(get.stdout).value, 'yes');
  });
});
