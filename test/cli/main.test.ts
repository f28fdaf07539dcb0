import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { encodeKvCommand } from '../../src/kv/commands.js';
import { encodePlain, encodeTagged } from '../../src/node/command.js';
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
      { timeout: 10_000, maxBuffer: 64 * 1024 * 1024 },
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

  test('--help prints the usage; no arguments at all is a one-line error', async () => {
    const help = await raftkit('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: raftkit/);
    const bare = await raftkit();
    assert.equal(bare.code, 1);
    assert.equal(bare.stderr, 'raftkit: no command given (see raftkit --help)\n');
    assert.equal(bare.stdout, '');
  });

  test('an unknown flag is one line with a pointer to --help, and a non-zero exit', async () => {
    const r = await raftkit('--frobnicate');
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr, "raftkit: unknown option '--frobnicate' (see raftkit --help)\n");
    assert.equal(r.stdout, '');
  });

  test('a usage error of a nested command is one line naming it, with a pointer to its --help', async () => {
    // Found from outside: `raftkit member add x` printed commander's bare "error: ..." line.
    const cases: [string[], string][] = [
      [
        ['member', 'add', 'x'],
        "raftkit member add: required option '--address <host:port>' not specified (see raftkit member add --help)\n",
      ],
      [
        ['leader', 'transfer'],
        "raftkit leader transfer: missing required argument 'id' (see raftkit leader transfer --help)\n",
      ],
      [
        ['snapshot', 'restore', 'f'],
        "raftkit snapshot restore: required option '--data <dir>' not specified (see raftkit snapshot restore --help)\n",
      ],
      [
        ['auth', 'add', 'f', '--name', 'n', '--role', 'root'],
        "raftkit auth add: option '--role <role>' argument 'root' is invalid. Allowed choices are read, write, admin. (see raftkit auth add --help)\n",
      ],
    ];
    for (const [args, line] of cases) {
      const r = await raftkit(...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr, line);
    }
  });
});

describe('raftkit inspect', () => {
  const base = mkdtempSync(join(tmpdir(), 'raftkit-inspect-'));
  after(() => rmSync(base, { recursive: true, force: true }));

  test('prints the hard state and the log of a data directory as JSON', async () => {
    const dir = join(base, 'node');
    const s = await FileStorage.open(dir, { id: '127.0.0.1:8000' });
    // As a node writes them: a plain command, a forwarded one, a binary one, and garbage.
    const op = new TextEncoder().encode('{"t":"value","n":"VARIABLE","o":"set","v":42}');
    const data = [
      encodePlain(op),
      encodeTagged(op, '127.0.0.1:8001', 7, 3),
      encodePlain(new Uint8Array([0, 255, 1])),
      new Uint8Array([9]),
    ];
    await s.save({
      entries: [
        { index: 1, term: 1, kind: 'noop', data: new Uint8Array() },
        { index: 2, term: 1, kind: 'command', data: data[0] as Uint8Array },
        { index: 3, term: 1, kind: 'command', data: data[1] as Uint8Array },
        { index: 4, term: 1, kind: 'command', data: data[2] as Uint8Array },
        { index: 5, term: 1, kind: 'command', data: data[3] as Uint8Array },
      ],
      hardState: { term: 1, vote: '127.0.0.1:8000', commit: 5 },
      sync: true,
    });
    const r = await raftkit('inspect', dir);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.id, '127.0.0.1:8000');
    assert.deepEqual(report.hardState, { term: 1, vote: '127.0.0.1:8000', commit: 5 });
    const text = new TextDecoder().decode(op);
    assert.deepEqual(report.log.entries, [
      { index: 1, term: 1, kind: 'noop' },
      { index: 2, term: 1, kind: 'command', text },
      { index: 3, term: 1, kind: 'command', origin: '127.0.0.1:8001', request: 3, text },
      { index: 4, term: 1, kind: 'command', base64: 'AP8B' },
      { index: 5, term: 1, kind: 'command', invalid: 'unknown command envelope 9', base64: 'CQ==' },
    ]);
    assert.equal(report.stateMachine, null);
    // --objects replays the committed commands into replicated objects.
    const objects = JSON.parse((await raftkit('inspect', dir, '--objects')).stdout);
    assert.deepEqual(objects.stateMachine, {
      appliedIndex: 5,
      snapshotIndex: null,
      refused: 2,
      objects: [['VARIABLE', 'value', 42]],
    });
    // It reads a directory in use without taking its lock; --from/--to select entries.
    const some = JSON.parse((await raftkit('inspect', dir, '--from', '2', '--to', '2')).stdout);
    assert.deepEqual(
      some.log.entries.map((e: { index: number }) => e.index),
      [2],
    );
    await s.close();
  });

  test("a range of entries shows the store's counts, not every key; --prefix selects keys", async () => {
    const dir = join(base, 'kv');
    const s = await FileStorage.open(dir, { id: 'n1' });
    const keys = 20_000;
    const entries = Array.from({ length: keys }, (_, i) => ({
      index: i + 1,
      term: 1,
      kind: 'command' as const,
      data: encodePlain(encodeKvCommand({ op: 'put', key: `key-${i}`, value: 'v'.repeat(40) })),
    }));
    await s.save({ entries, hardState: { term: 1, vote: 'n1', commit: keys }, sync: true });
    await s.close();
    const range = await raftkit('inspect', dir, '--from', '5', '--to', '6');
    assert.equal(range.code, 0, range.stderr);
    // Two entries and the store's counts: a few kilobytes, where the keys would be megabytes.
    assert.ok(range.stdout.length < 5000, `${range.stdout.length} bytes`);
    const report = JSON.parse(range.stdout);
    assert.deepEqual(
      report.log.entries.map((e: { index: number }) => e.index),
      [5, 6],
    );
    assert.deepEqual(report.stateMachine, {
      kind: 'kv',
      appliedIndex: keys,
      snapshotIndex: null,
      refused: 0,
      applied: keys,
      keys,
      sessions: 0,
    });
    const some = JSON.parse(
      (await raftkit('inspect', dir, '--prefix', 'key-1999', '--no-entries')).stdout,
    );
    assert.deepEqual(some.log.entries, []);
    assert.deepEqual(Object.keys(some.stateMachine.data), [
      'key-1999',
      'key-19990',
      'key-19991',
      'key-19992',
      'key-19993',
      'key-19994',
      'key-19995',
      'key-19996',
      'key-19997',
      'key-19998',
      'key-19999',
    ]);
    assert.deepEqual(some.stateMachine.data['key-1999'], { value: 'v'.repeat(40), index: 2000 });
    // Everything, written as it is read: every entry and every key.
    const all = JSON.parse((await raftkit('inspect', dir)).stdout);
    assert.equal(all.log.entries.length, keys);
    assert.equal(Object.keys(all.stateMachine.data).length, keys);
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
