import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

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
