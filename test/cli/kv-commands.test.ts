/**
 * `raftkit cluster`, `raftkit node` and the client commands, as a user runs them: the built
 * bin in real processes on loopback.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePortRange } from '../support/ports.js';
import { outputMatching, raftkit } from '../support/raftkit.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = resolve(root, 'bin/raftkit.js');

const exitOf = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((r) => child.once('exit', (code) => r(code)));

const portIsFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

describe('raftkit cluster and the client commands', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-cli-'));
  let cluster: ChildProcess;
  let base: number;
  let endpoints: string;
  let output = '';

  before(async () => {
    base = await freePortRange(6);
    endpoints = `--endpoints=http://127.0.0.1:${base + 3},127.0.0.1:${base + 4},127.0.0.1:${base + 5}`;
    cluster = spawn(
      process.execPath,
      [bin, 'cluster', '--base-port', String(base), '--http-base-port', String(base + 3)].concat([
        '--data',
        dir,
        '--heartbeat-ms',
        '50',
        '--election-ms',
        '300',
      ]),
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cluster.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    await outputMatching(cluster, /ready: 3 nodes, leader 127\.0\.0\.1:\d+/, 20_000);
  });

  after(async () => {
    if (cluster.exitCode === null) cluster.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('prints where each node listens, then ready', () => {
    for (let i = 0; i < 3; i++) {
      assert.match(
        output,
        new RegExp(
          `node${i + 1}: raft 127\\.0\\.0\\.1:${base + i}  http://127\\.0\\.0\\.1:${base + 3 + i}`,
        ),
      );
    }
  });

  test('put, get, del, cas and status print JSON; exit statuses say what happened', async () => {
    const put = await raftkit('put', 'greeting', 'hello world', endpoints);
    assert.equal(put.code, 0, put.stderr);
    const { index } = JSON.parse(put.stdout) as { index: number };
    assert.deepEqual(JSON.parse((await raftkit('get', 'greeting', endpoints)).stdout), {
      key: 'greeting',
      value: 'hello world',
      index,
    });
    const stale = await raftkit('get', 'greeting', '--stale', endpoints);
    assert.equal(stale.code, 0);
    const missing = await raftkit('get', 'nothing', endpoints);
    assert.equal(missing.code, 3);
    assert.equal(missing.stdout, '');
    assert.equal(missing.stderr, 'raftkit: key not found: nothing\n');

    const cas = await raftkit('cas', 'greeting', 'hello world', 'bye', endpoints);
    assert.equal(cas.code, 0);
    assert.equal(JSON.parse(cas.stdout).succeeded, true);
    const lost = await raftkit('cas', 'greeting', 'hello world', 'again', endpoints);
    assert.equal(lost.code, 2);
    assert.equal(JSON.parse(lost.stdout).succeeded, false);
    assert.equal((await raftkit('cas', 'new', '--absent', 'v', endpoints)).code, 0);
    assert.equal((await raftkit('cas', 'new', 'v', '--delete', endpoints)).code, 0);
    assert.equal((await raftkit('get', 'new', endpoints)).code, 3);

    const del = await raftkit('del', 'greeting', endpoints);
    assert.equal(JSON.parse(del.stdout).deleted, true);
    const status = JSON.parse((await raftkit('status', endpoints)).stdout);
    assert.equal(status.role, 'leader');
    assert.equal(status.members.length, 3);
    assert.ok(status.commitIndex >= JSON.parse(del.stdout).index);
  });

  test("raftkit inspect shows a node's key-value store", async () => {
    await raftkit('put', 'kept', 'yes', endpoints);
    const r = await raftkit('inspect', join(dir, 'node1'));
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.stateMachine.kind, 'kv');
    assert.equal(report.stateMachine.refused, 0);
    // Node 1 may not have learnt the last commit yet; what it holds is a prefix.
    assert.ok(
      report.stateMachine.data.kept === undefined || report.stateMachine.data.kept.value === 'yes',
    );
    assert.ok(report.stateMachine.sessions >= 1);
  });

  test('wrong flags and arguments: one line that points to the help, a non-zero exit', async () => {
    const cases: [string[], RegExp][] = [
      [['node', '--peers', '127.0.0.1:1', '--data', dir], /required option '--listen <host:port>'/],
      [
        ['node', '--listen', 'nowhere', '--peers', '', '--data', dir],
        /argument 'nowhere' is invalid. expected HOST:PORT/,
      ],
      [
        ['node', '--listen', '127.0.0.1:1', '--peers', '', '--data', dir, '--transport', 'sctp'],
        /Allowed choices are tcp, udp/,
      ],
      [
        ['node', '--listen', '127.0.0.1:1', '--peers', '', '--data', dir, '--election-ms', '-5'],
        /expected a positive integer/,
      ],
      [
        ['node', '--listen', '127.0.0.1:1', '--peers', '', '--data', dir, '--snapshot-bytes', '0'],
        /expected a positive integer/,
      ],
      [
        [
          'node',
          '--listen',
          '127.0.0.1:1',
          '--peers',
          '',
          '--data',
          dir,
          '--snapshot-entries',
          'x',
        ],
        /expected a positive integer/,
      ],
      [['cluster', '--snapshot-keep-entries', '-1'], /expected an integer of at least 0/],
      [['cluster', '--nodes', '0'], /expected a positive integer/],
      [['cluster', '--base-port', '70000'], /expected a port/],
      [['put', 'only-key'], /missing required argument 'value'/],
      [['cas', 'k', 'v'], /cas needs KEY EXPECTED VALUE/],
      [['cas', 'k', '--absent', '--delete', 'x'], /only KEY with --absent --delete/],
      [['get', 'k', '--timeout-ms', 'soon'], /expected a positive integer/],
      [['status', '--endpoints', 'ftp://x:1'], /must be http:\/\/host:port/],
    ];
    for (const [args, message] of cases) {
      const r = await raftkit(...args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
      // One line, never the whole usage; a usage error points to the command's help.
      assert.match(r.stderr, /^raftkit( [a-z]+)?: [^\n]+\n$/, args.join(' '));
      if (args[0] !== 'status') assert.match(r.stderr, / \(see raftkit [a-z]+ --help\)\n$/);
    }
  });

  test('a node whose port is taken ends with one error line and exit 1', async () => {
    const r = await raftkit(
      'node',
      ...['--listen', `127.0.0.1:${base}`, '--peers', '', '--data', join(dir, 'other')],
    );
    assert.equal(r.code, 1);
    // The node's own log lines come first (stderr is its log); the last line is the verdict.
    assert.match(r.stderr.trim().split('\n').at(-1) ?? '', /^raftkit: listen EADDRINUSE/);
    assert.equal(r.stdout, '');
  });

  test('a client with no cluster to reach fails with one line', async () => {
    const r = await raftkit('get', 'k', '--endpoints', '127.0.0.1:1', '--timeout-ms', '300');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^raftkit: GET \/v1\/kv\/k: no node answered in time/);
  });

  test('an endpoint that answers HTML is no node: one line and exit 1 alone, skipped when first', async () => {
    const html = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<html>\n${'<p>not raftkit</p>\n'.repeat(10)}</html>\n`);
    });
    await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
    const at = `127.0.0.1:${(html.address() as AddressInfo).port}`;
    try {
      const alone = await raftkit('put', 'x', '1', '--endpoints', at, '--timeout-ms', '500');
      assert.equal(alone.code, 1);
      assert.equal(alone.stdout, '');
      assert.match(alone.stderr, /^raftkit: [^\n]*not a raftkit node: 200, text\/html[^\n]*\n$/);
      const first = await raftkit('put', 'x', '1', `--endpoints=${at},${endpoints.split('=')[1]}`);
      assert.equal(first.code, 0, first.stderr);
      const { index } = JSON.parse(first.stdout) as { index: number };
      const got = JSON.parse((await raftkit('get', 'x', endpoints)).stdout) as { index: number };
      assert.equal(got.index, index);
    } finally {
      html.closeAllConnections();
      html.close();
    }
  });

  test('SIGINT stops every node and frees every port', async () => {
    cluster.kill('SIGINT');
    assert.equal(await exitOf(cluster), 0);
    assert.match(output, /all nodes stopped/);
    for (let p = base; p < base + 6; p++) assert.ok(await portIsFree(p), `port ${p} released`);
  });
});
