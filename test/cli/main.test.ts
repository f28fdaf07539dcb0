import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FileStorage } from '../../src/storage/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { version } = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
  version: string;
};

/** Runs the built `raftkit` bin (npm test builds before it tests). */
async function raftkit(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [resolve(root, 'bin/raftkit.js'), ...args],
      { timeout: 10_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('raftkit command', () => {
  test('--version prints the package version', async () => {
    const r = await raftkit('--version');
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), version);
  });

  test('no arguments or --help print the usage', async () => {
    for (const args of [[], ['--help']]) {
      const r = await raftkit(...args);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /Usage: raftkit/);
    }
  });

  test('an unknown flag is a one-line error, the usage hint, and a non-zero exit', async () => {
    const r = await raftkit('--frobnicate');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown option '--frobnicate'/);
    assert.match(r.stderr, /raftkit --help/);
    assert.equal(r.stdout, '');
  });
});

describe('raftkit inspect', () => {
  const base = mkdtempSync(join(tmpdir(), 'raftkit-inspect-'));
  after(() => rmSync(base, { recursive: true, force: true }));

  test('prints the hard state and the log of a data directory as JSON', async () => {
    const dir = join(base, 'node');
    const s = await FileStorage.open(dir, { id: '127.0.0.1:8000' });
    const data = [new TextEncoder().encode('VARIABLE=42'), new Uint8Array([0, 255, 1])];
    await s.save({
      entries: [
        { index: 1, term: 1, kind: 'noop', data: new Uint8Array() },
        { index: 2, term: 1, kind: 'command', data: data[0] as Uint8Array },
        { index: 3, term: 1, kind: 'command', data: data[1] as Uint8Array },
      ],
      hardState: { term: 1, vote: '127.0.0.1:8000', commit: 2 },
      sync: true,
    });
    const r = await raftkit('inspect', dir);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.id, '127.0.0.1:8000');
    assert.deepEqual(report.hardState, { term: 1, vote: '127.0.0.1:8000', commit: 2 });
    assert.deepEqual(report.log.entries, [
      { index: 1, term: 1, kind: 'noop', text: '' },
      { index: 2, term: 1, kind: 'command', text: 'VARIABLE=42' },
      { index: 3, term: 1, kind: 'command', base64: 'AP8B' },
    ]);
    assert.equal(report.stateMachine, null);
    // It reads a directory in use without taking its lock; --from/--to select entries.
    const some = JSON.parse((await raftkit('inspect', dir, '--from', '2', '--to', '2')).stdout);
    assert.deepEqual(
      some.log.entries.map((e: { index: number }) => e.index),
      [2],
    );
    await s.close();
  });

  test('bad input is a one-line error and exit 1', async () => {
    writeFileSync(join(base, 'a-file'), 'x');
    const cases: [string[], RegExp][] = [
      [
        ['inspect', join(base, 'missing')],
        /missing is not a raftkit data directory: no such directory\n$/,
      ],
      [['inspect', base], /is not a raftkit data directory: it has no raftkit.json\n$/],
      [['inspect', join(base, 'a-file')], /is not a raftkit data directory: it is a file\n$/],
      [['inspect', base, '--from', '0'], /expected a log index/],
      [['inspect'], /missing required argument 'dir'/],
    ];
    for (const [args, message] of cases) {
      const r = await raftkit(...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
  });
});
